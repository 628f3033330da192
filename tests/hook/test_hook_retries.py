"""Retries of the sync hook: status polls recover; mutating calls repeat only what was not processed."""

from __future__ import annotations

import pytest

from airflow_provider_ofs.exceptions import (
    FailureKind,
    OFSOutcomeUnknownError,
    OFSTokenUnavailableError,
    OFSTransportError,
)
from airflow_provider_ofs.states import RunState
from tests.hook.conftest import CATALOGUE, closed_port

SLOW = {"slow_seconds": 1.5}
SHORT_TIMEOUT = 0.5
# Faults after which the server may have acted: a mutating call must not be repeated.
MAYBE_PROCESSED = [500, 502, 504, "reset", "reset_after", "slow", "html", "garbage"]
PROCESSED_BY_SIMULATOR = {"reset_after", "slow"}
# A success envelope that lacks the run's state (the answer is not what the guide documents), then a good one.
INCOMPLETE_STATUS = {"status": "success", "statusCode": "0", "batchRunId": "R1"}
ONGOING_STATUS = {**INCOMPLETE_STATUS, "batchStatusCode": "2"}


@pytest.fixture
def sim(ofs_simulator_factory):
    """The test catalogue with a short ``slow`` answer, so that timeouts cost little."""
    return ofs_simulator_factory(CATALOGUE, **SLOW)


def retry_warnings(logs):
    return [message for message in logs.messages("warning") if "retrying in" in message]


@pytest.mark.parametrize("fault", [500, 502, 503, 504, "reset", "reset_after", "slow", "html", "garbage"])
def test_status_recovers_from_a_transient_failure(sim, connect, fault):
    hook = connect(sim, timeout=SHORT_TIMEOUT)
    run_id = hook.trigger("QUICK")
    sim.add_fault("status", [fault])

    status = hook.get_status(run_id)

    assert status.run_id == run_id
    assert status.state in set(RunState)
    assert sim.journal.count("status") == 2


def test_status_answer_without_the_run_state_is_retried_like_any_unparseable_answer(scripted_esi, connect_dict):
    esi = scripted_esi([INCOMPLETE_STATUS, ONGOING_STATUS])
    hook = connect_dict(esi.connection())

    assert hook.get_status("R1").state is RunState.ONGOING
    assert esi.requests == 2


def test_status_recovers_from_429_after_waiting_as_long_as_retry_after_says(sim, connect, logs):
    hook = connect(sim)
    run_id = hook.trigger("QUICK")
    sim.add_fault("status", [429])  # the simulator sends Retry-After: 1

    assert hook.get_status(run_id).run_id == run_id

    warnings = retry_warnings(logs)
    assert len(warnings) == 1
    assert "retrying in 1.0 s" in warnings[0]
    assert "429" in warnings[0]


def test_retry_warning_names_the_call_once(sim, connect, logs):
    hook = connect(sim)
    run_id = hook.trigger("QUICK")
    sim.add_fault("status", [503])

    hook.get_status(run_id)

    (warning,) = retry_warnings(logs)
    assert warning.count("ESI status") == 1
    assert "attempt 2 of 5" in warning


def test_status_gives_up_after_the_retry_budget_with_the_last_failure(sim, connect):
    hook = connect(sim, retry_attempts=3)
    run_id = hook.trigger("QUICK")
    sim.add_fault("status", [503, 502, 500, 503])

    with pytest.raises(OFSTransportError) as raised:
        hook.get_status(run_id)

    assert raised.value.kind is FailureKind.SERVER_ERROR
    assert raised.value.http_status == 500
    assert sim.journal.count("status") == 3


@pytest.mark.parametrize("fault", [503, 429])
def test_trigger_is_repeated_when_the_server_certainly_did_not_act(sim, connect, fault):
    hook = connect(sim)
    sim.add_fault("trigger", [fault])

    run_id = hook.trigger("QUICK")

    assert sim.journal.count("trigger") == 2
    assert sim.journal.runs_created() == 1
    assert sim.get_run(run_id).name == "QUICK"


@pytest.mark.parametrize("fault", MAYBE_PROCESSED)
def test_trigger_is_never_repeated_when_it_may_have_been_processed(sim, connect, fault):
    hook = connect(sim, timeout=SHORT_TIMEOUT)
    sim.add_fault("trigger", [fault])

    with pytest.raises(OFSOutcomeUnknownError) as raised:
        hook.trigger("QUICK")

    assert "may have been processed" in str(raised.value)
    assert "QUICK" in str(raised.value)
    assert sim.journal.count("trigger") == 1
    assert sim.journal.runs_created() == (1 if fault in PROCESSED_BY_SIMULATOR else 0)


def test_trigger_is_repeated_when_the_connection_is_refused(sim, connect_dict, logs):
    conn = sim.connection_dict(retry_wait=0.02, retry_attempts=3)
    conn["host"] = f"http://127.0.0.1:{closed_port()}"  # IAM answers, ESI refuses connections
    hook = connect_dict(conn)

    with pytest.raises(OFSTransportError) as raised:
        hook.trigger("QUICK")

    assert not isinstance(raised.value, OFSOutcomeUnknownError)
    assert raised.value.kind is FailureKind.NOT_CONNECTED
    assert len(retry_warnings(logs)) == 2  # three attempts in all


@pytest.mark.parametrize("verb", ["restart", "rerun", "interrupt"])
def test_run_actions_are_repeated_after_503(sim, connect, verb):
    hook = connect(sim)
    run_id = hook.trigger("LONG" if verb == "interrupt" else "FAILS_ONCE")
    if verb != "interrupt":
        _wait_finished(hook, run_id)
    sim.add_fault(verb, [503])

    getattr(hook, verb)("LONG" if verb == "interrupt" else "FAILS_ONCE", run_id)

    assert sim.journal.count(verb) == 2


@pytest.mark.parametrize("verb", ["restart", "rerun", "interrupt"])
def test_run_actions_are_never_repeated_after_reset_after(sim, connect, verb):
    hook = connect(sim)
    batch = "LONG" if verb == "interrupt" else "FAILS_ONCE"
    run_id = hook.trigger(batch)
    if verb != "interrupt":
        _wait_finished(hook, run_id)
    sim.add_fault(verb, ["reset_after"])

    with pytest.raises(OFSOutcomeUnknownError, match="may have been processed"):
        getattr(hook, verb)(batch, run_id)

    assert sim.journal.count(verb) == 1
    assert sim.journal.runs_created() == (2 if verb == "rerun" else 1)


def test_token_endpoint_down_for_a_while_recovers(sim, connect):
    hook = connect(sim)
    sim.add_fault("token", [503, 503])

    run_id = hook.trigger("QUICK")

    assert sim.journal.token_requests() == 3
    assert sim.journal.runs_created() == 1
    assert sim.get_run(run_id).name == "QUICK"


@pytest.mark.parametrize("fault", [503, 500, "reset", "garbage", "html"])
def test_token_endpoint_recovers_from_any_transient_failure(sim, connect, fault):
    hook = connect(sim)
    sim.add_fault("token", [fault])

    assert hook.get_token()
    assert sim.journal.token_requests() == 2


def test_token_endpoint_down_longer_than_the_budget_is_token_unavailable(sim, connect):
    hook = connect(sim, retry_attempts=3)
    sim.add_fault("token", [503, 503, 503, 503])

    with pytest.raises(OFSTokenUnavailableError) as raised:
        hook.trigger("QUICK")

    assert "503" in str(raised.value)
    assert sim.journal.token_requests() == 3
    assert sim.journal.count("trigger") == 0


def test_token_outage_is_not_multiplied_by_the_esi_retries(sim, connect):
    hook = connect(sim, retry_attempts=2)
    sim.add_fault("token", [503, 503, 503, 503, 503])

    with pytest.raises(OFSTokenUnavailableError):
        hook.get_status("ANY_RUN")

    assert sim.journal.token_requests() == 2


def _wait_finished(hook, run_id):
    from tests.hook.conftest import wait_until_finished

    assert wait_until_finished(hook, run_id).state.is_terminal
