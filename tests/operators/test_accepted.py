"""Accepted means done: once OFS accepted a trigger, restart or rerun, no try of the task sends it again.

A success whose ``batchRunId`` cannot be a run id, and anything failing between OFS's answer and the
moment the run is kept (the log line, the task-state store write, the XCom push), fail the task at once
with ``OFSOutcomeUnknownError`` (an ``AirflowFailException``) and leave the intent marker in the store:
a retry sends nothing. Called directly against the simulator, on every supported Airflow (2.11 has no
task-state store: there the error alone keeps Airflow from retrying). The same in a real Airflow with
``retries=2``: tests/reliability/test_airflow_retries.py.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_ofs._compat import HAS_TASK_STATE_STORE
from airflow_provider_ofs.exceptions import OFSOutcomeUnknownError
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.kept_run import ACTING_MARKER
from airflow_provider_ofs.operators.batch import (
    OFSBatchRunActionOperator,
    OFSRerunBatchOperator,
    OFSRestartBatchOperator,
    OFSTriggerBatchOperator,
)
from airflow_provider_ofs.protocol import MAX_RUN_ID_LENGTH
from airflow_provider_ofs.simulator.faults import BAD_RUN_IDS
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from airflow_provider_ofs.states import RunState
from tests.operators.task_context import RETRY, TaskInstance, TaskStateStore

CATALOGUE = {
    "batches": {
        "FLAKY": {"tasks": [{"code": "STEP", "seconds": 0.1, "outcome": "fail_once"}]},
        "QUICK": {"tasks": [{"code": "STEP", "seconds": 0.1}]},
    }
}
VERBS = ("trigger", "restart", "rerun")


@pytest.fixture
def sim(ofs_simulator_factory, monkeypatch):
    simulator = ofs_simulator_factory(CATALOGUE)
    monkeypatch.setenv(CONN_ENV_VAR, simulator.connection_json(retry_wait=0.01, retry_attempts=2))
    return simulator


def run_in(batch: str, state: RunState) -> str:
    hook = OFSSchedulerHook()
    run_id = hook.trigger(batch)
    while hook.get_status(run_id).state is not state:
        pass
    return run_id


def action(verb: str, **kwargs: Any) -> OFSBatchRunActionOperator:
    """A task with ``retries=2`` making the verb's call: trigger QUICK, restart a failed run, rerun a finished one."""
    common: dict[str, Any] = {"task_id": "t", "poll_interval": 0.02, "retries": 2, **kwargs}
    if verb == "trigger":
        return OFSTriggerBatchOperator(batch_name="QUICK", **common)
    if verb == "restart":
        return OFSRestartBatchOperator(batch_name="FLAKY", batch_run_id=run_in("FLAKY", RunState.FAILED), **common)
    return OFSRerunBatchOperator(batch_name="QUICK", batch_run_id=run_in("QUICK", RunState.SUCCESSFUL), **common)


def acted(sim: Any, verb: str) -> int:
    """How many times OFS acted on the verb's calls: processed calls, answers lost or not."""
    return sum(1 for entry in sim.journal.entries(verb) if entry.api_status_code == "0")


def first_try(store: TaskStateStore | None = None) -> dict[str, Any]:
    return {"task_state_store": store, "ti": TaskInstance(try_number=1, max_tries=2)}


def assert_accepted_error(error: BaseException) -> str:
    """The error fails the task at once, says OFS accepted the call, and is one printable, bounded text."""
    assert isinstance(error, OFSOutcomeUnknownError)
    assert isinstance(error, AirflowFailException), "Airflow must not retry it"
    message = str(error)
    assert "OFS accepted the request, so it is not sent again" in message
    assert message.isprintable(), "no line break, control character or lone surrogate reaches the log"
    assert len(message) < 2000
    return message


def assert_a_retry_sends_nothing(task: OFSBatchRunActionOperator, store: TaskStateStore, sim: Any) -> None:
    """With the task-state store, Airflow's retry (were there one) finds the marker and fails without a call."""
    if not HAS_TASK_STATE_STORE:
        return  # no store: the error alone keeps Airflow from retrying
    assert str(store.values[task.external_id_key]).startswith(ACTING_MARKER), "the intent marker is kept"
    before = len(sim.journal)
    with pytest.raises(OFSOutcomeUnknownError, match="lost while its"):
        task.execute({"task_state_store": store, "ti": RETRY})
    assert len(sim.journal) == before, "the retry sent nothing to OFS"


# ------------------------------------------------------------------------ a success without a usable run id


@pytest.mark.parametrize("shape", sorted(BAD_RUN_IDS))
@pytest.mark.parametrize("verb", VERBS)
def test_a_success_without_a_usable_run_id_fails_at_once_and_no_retry_sends_the_call_again(sim, verb, shape):
    task = action(verb)
    sim.add_fault(verb, [f"bad_run_id:{shape}"])
    store = TaskStateStore()

    with pytest.raises(OFSOutcomeUnknownError) as raised:
        task.execute(first_try(store))

    message = assert_accepted_error(raised.value)
    assert f"ESI {verb}" in message
    assert "batchRunId" in message
    assert acted(sim, verb) == 1
    assert task.watched_run_id is None, "nothing was published for a run id that is not one"
    assert_a_retry_sends_nothing(task, store, sim)


def test_the_error_quotes_what_came_back_cut_short_and_redacted(sim, monkeypatch):
    task = action("trigger")
    sim.add_fault("trigger", ["bad_run_id:huge"])

    with pytest.raises(OFSOutcomeUnknownError) as raised:
        task.execute(first_try())

    assert "'RRRRRRRR" in str(raised.value)
    assert "(1000000 characters)" in str(raised.value)


def test_a_run_id_of_the_longest_length_is_a_run_id():
    from airflow_provider_ofs.protocol import run_id_from

    longest = "R" * MAX_RUN_ID_LENGTH
    assert run_id_from({"statusCode": "0", "batchRunId": f" {longest} "}, "trigger") == longest
    with pytest.raises(OFSOutcomeUnknownError, match=f"{MAX_RUN_ID_LENGTH + 1} characters long"):
        run_id_from({"statusCode": "0", "batchRunId": longest + "R"}, "trigger")


# ------------------------------------------------------------- a failure after OFS accepted, before the run is kept


class FailingLog:
    """A logger whose line announcing the accepted call fails, as a log handler can (UnicodeEncodeError, full disk)."""

    def __init__(self, real: Any, prefix: str) -> None:
        self.real, self.prefix = real, prefix

    def info(self, message: str, *args: Any, **kwargs: Any) -> None:
        if message.startswith(self.prefix):
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        self.real.info(message, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class StoreFailingOnTheRun(TaskStateStore):
    """A task-state store that takes the intent marker but fails to keep the run (the API server went away)."""

    def set(self, key: str, value: Any, **kwargs: Any) -> None:
        if isinstance(value, dict):
            raise ConnectionError("the API server did not answer")
        super().set(key, value, **kwargs)


class XComFailing(TaskInstance):
    """A task instance whose push of the run id fails."""

    def xcom_push(self, key: str, value: Any) -> None:
        if key == "batch_run_id":
            raise OSError("the XCom backend is full")
        super().xcom_push(key, value)


@pytest.mark.parametrize("verb", VERBS)
def test_a_failing_log_line_after_ofs_accepted_fails_at_once(sim, verb, monkeypatch):
    task = action(verb)
    prefix = "Triggered" if verb == "trigger" else "OFS %s of run"
    log = FailingLog(logging.getLogger(__name__), prefix)
    monkeypatch.setattr(type(task.hook), "log", property(lambda hook: log))
    store = TaskStateStore()

    with pytest.raises(OFSOutcomeUnknownError) as raised:
        task.execute(first_try(store))

    message = assert_accepted_error(raised.value)
    assert "UnicodeEncodeError" in message
    assert f"was accepted: OFS run {sim.journal.entries(verb)[-1].run_id}." in message
    assert acted(sim, verb) == 1
    assert_a_retry_sends_nothing(task, store, sim)


@pytest.mark.skipif(not HAS_TASK_STATE_STORE, reason="the task-state store arrived in Airflow 3.3")
@pytest.mark.parametrize("verb", VERBS)
def test_a_failing_store_write_after_ofs_accepted_fails_at_once(sim, verb):
    task = action(verb)
    store = StoreFailingOnTheRun()

    with pytest.raises(OFSOutcomeUnknownError) as raised:
        task.execute(first_try(store))

    message = assert_accepted_error(raised.value)
    assert "ConnectionError" in message
    assert acted(sim, verb) == 1
    assert_a_retry_sends_nothing(task, store, sim)


@pytest.mark.parametrize("durable", [True, False])
@pytest.mark.parametrize("verb", VERBS)
def test_a_failing_xcom_push_after_ofs_accepted_fails_at_once(sim, verb, durable):
    task = action(verb, durable=durable)
    store = TaskStateStore()

    with pytest.raises(OFSOutcomeUnknownError) as raised:
        task.execute({"task_state_store": store, "ti": XComFailing(try_number=1, max_tries=2)})

    message = assert_accepted_error(raised.value)
    assert "the XCom backend is full" in message
    assert acted(sim, verb) == 1
    if durable and HAS_TASK_STATE_STORE:  # the run was kept before the push: a clear would find it
        assert store.values[task.external_id_key]["run_id"] in message


@pytest.mark.parametrize("failing", ["store", "xcom"])
def test_a_failure_after_a_restart_within_the_wait_was_accepted_fails_at_once(sim, failing):
    task = OFSTriggerBatchOperator(task_id="t", batch_name="FLAKY", poll_interval=0.02, max_restarts=1, retries=2)
    store = TaskStateStore()
    ti = TaskInstance(try_number=1, max_tries=2)
    if failing == "store":
        if not HAS_TASK_STATE_STORE:
            pytest.skip("the task-state store arrived in Airflow 3.3")

        runs_kept: list[Any] = []

        def fail_on_the_restarted_run(key: str, value: Any, **kwargs: Any) -> None:
            if isinstance(value, dict):
                runs_kept.append(value)
                if len(runs_kept) == 3:  # the triggered run, by the operator then the mixin; then the restarted one
                    raise ConnectionError("the API server did not answer")
            TaskStateStore.set(store, key, value)

        store.set = fail_on_the_restarted_run  # type: ignore[method-assign]
    else:
        pushed: list[str] = []

        def fail_on_the_second_push(key: str, value: Any) -> None:
            if key == "batch_run_id":
                pushed.append(value)
                if len(pushed) == 2:
                    raise OSError("the XCom backend is full")
            ti.xcoms[key] = value

        ti.xcom_push = fail_on_the_second_push  # type: ignore[method-assign]

    with pytest.raises(OFSOutcomeUnknownError) as raised:
        task.execute({"task_state_store": store, "ti": ti})

    message = assert_accepted_error(raised.value)
    assert "ESI restart of run" in message
    assert acted(sim, "restart") == 1
    assert acted(sim, "trigger") == 1


@pytest.mark.skipif(not HAS_TASK_STATE_STORE, reason="the task-state store arrived in Airflow 3.3")
def test_a_retry_restarting_the_failed_run_stops_once_ofs_accepted_the_restart(sim):
    failed = run_in("FLAKY", RunState.FAILED)
    kept = {"run_id": failed, "batch_name": "FLAKY", "conn_id": "ofs_scheduler_default"}
    store = TaskStateStore(**{OFSTriggerBatchOperator.external_id_key: kept})
    task = OFSTriggerBatchOperator(task_id="t", batch_name="FLAKY", restart_on_retry=True, retries=2)
    sim.add_fault("restart", ["bad_run_id:newline"])

    with pytest.raises(OFSOutcomeUnknownError) as raised:
        task.execute({"task_state_store": store, "ti": RETRY})

    assert f"ESI restart of run {failed} of FLAKY answered success" in assert_accepted_error(raised.value)
    assert (acted(sim, "restart"), acted(sim, "trigger")) == (1, 1), "restarted once, and nothing triggered"
    assert_a_retry_sends_nothing(task, store, sim)
