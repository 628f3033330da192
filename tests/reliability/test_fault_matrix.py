"""Every ESI call against every simulator fault: recovered, or failed saying so, and never two runs for one call.

Each cell prepares the run the call needs, arms one fault, makes the call once (as one task try
would) and compares the outcome and the number of runs the call created or changed on the server
with ``fault_matrix.expected`` (the retry rules). The observed table is printed at the end of the test run;
``docs/fault-matrix.md`` keeps the expected one (regenerate: ``OFS_WRITE_FAULT_MATRIX=1 pytest
tests/reliability/test_fault_matrix.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_ofs.exceptions import (
    FailureKind,
    OFSConnectionConfigError,
    OFSOutcomeUnknownError,
    OFSTokenUnavailableError,
    OFSTransportError,
)
from airflow_provider_ofs.hooks.async_client import close_shared_sessions
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.simulator import Simulator
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from airflow_provider_ofs.states import RunState
from airflow_provider_ofs.tokens import TOKEN_CACHE
from airflow_provider_ofs.triggers.batch import OFSBatchRunTrigger
from tests.hook.conftest import closed_port
from tests.hook.forward_proxy import ForwardProxy
from tests.reliability.fault_matrix import (
    ACCEPTED_BEGIN,
    ACCEPTED_END,
    CALLS,
    CONNECTION_EXTRAS,
    DOCS_BEGIN,
    DOCS_END,
    FAULTS,
    PROXY_BEGIN,
    PROXY_END,
    PROXY_FAULTS,
    TRANSPORTS,
    Call,
    Fault,
    Outcome,
    ProxyFault,
    Result,
    Transport,
    accepted_table,
    expected,
    expected_table,
    proxy_expected,
    proxy_key,
    proxy_tables,
)

DOCS = Path(__file__).parents[2] / "docs" / "fault-matrix.md"
#: The run each verb acts on: its batch and the state it must be in (ongoing, failed or finished).
TARGETS = {
    "status": ("REL_QUICK", RunState.SUCCESSFUL),
    "interrupt": ("REL_LONG", RunState.ONGOING),
    "restart": ("REL_FAILS", RunState.FAILED),
    "rerun": ("REL_QUICK", RunState.SUCCESSFUL),
}


@dataclass
class Target:
    """The run a call acts on (none for trigger)."""

    batch_name: str
    run_id: str | None = None


def prepare(verb: str, simulator: Simulator) -> Target:
    """Create the run the verb needs, in the state it needs, before any fault is armed."""
    if verb == "trigger":
        return Target("REL_QUICK")
    batch_name, wanted = TARGETS[verb]
    run_id = OFSSchedulerHook().trigger(batch_name)
    deadline = time.monotonic() + 10
    while RunState(int(simulator.get_run(run_id).state)) is not wanted:
        assert time.monotonic() < deadline, f"run {run_id} never reached {wanted.name}"
        time.sleep(0.005)
    return Target(batch_name, run_id)


def arm(fault: Fault, call: Call, simulator: Simulator) -> None:
    """Make the simulator misbehave as the fault says, for the call's verb."""
    if fault.answers:
        simulator.add_fault(call.verb, list(fault.answers))
    if fault.token_answers:
        TOKEN_CACHE.clear()  # the call under test must ask IAM for a token
        simulator.add_fault("token", list(fault.token_answers))
    if fault.expire_tokens:
        OFSSchedulerHook().get_token()  # a token in the cache (trigger prepared nothing), which then stops working
        simulator.expire_tokens()
    if fault.revoke_refresh_tokens:
        simulator.revoke_refresh_tokens()


def runs_changed(verb: str, simulator: Simulator) -> int:
    """Runs created (trigger, rerun; for status: any) or changed (restart, interrupt) by processed calls so far."""
    if verb in ("trigger", "rerun", "status"):
        return simulator.journal.runs_created()
    return sum(1 for entry in simulator.journal.entries(verb) if entry.api_status_code == "0" and entry.run_id)


def perform(call: Call, target: Target, simulator: Simulator) -> tuple[str, str]:
    """Make the call once; the outcome (an ``Outcome`` value, or ``failed: <error>``) and a detail text."""
    try:
        if call.mode == "sync":
            detail = perform_sync(call.verb, target, simulator)
        elif call.verb == "status":
            return watch_with_trigger(target)
        else:
            asyncio.run(interrupt_async(target))
            detail = check_interrupted(target, simulator)
    except OFSOutcomeUnknownError as error:
        return Outcome.OUTCOME_UNKNOWN.value, str(error)
    except OFSTokenUnavailableError as error:
        return Outcome.NO_TOKEN.value, str(error)
    except OFSConnectionConfigError as error:
        return Outcome.CONFIGURATION.value, str(error)
    except OFSTransportError as error:
        if error.kind is not FailureKind.NOT_CONNECTED:
            raise
        return Outcome.NOT_REACHED.value, str(error)
    except Exception as error:
        return f"failed: {type(error).__name__}", str(error)
    return Outcome.RECOVERED.value, detail


def perform_sync(verb: str, target: Target, simulator: Simulator) -> str:
    hook = OFSSchedulerHook()
    if verb == "trigger":
        run_id = hook.trigger(target.batch_name)
    elif verb == "status":
        assert target.run_id
        status = hook.get_status(target.run_id)
        assert status.run_id == target.run_id
        assert status.state is RunState.SUCCESSFUL
        return f"run {status.run_id} {status.state.name}"
    elif verb == "interrupt":
        assert target.run_id
        hook.interrupt(target.batch_name, target.run_id)
        return check_interrupted(target, simulator)
    else:
        assert target.run_id
        run_id = getattr(hook, verb)(target.batch_name, target.run_id)
    simulator.get_run(run_id)  # the returned id is a real run
    return f"run {run_id}"


def check_interrupted(target: Target, simulator: Simulator) -> str:
    assert target.run_id
    state = RunState(int(simulator.get_run(target.run_id).state))
    assert state is RunState.INTERRUPTED, f"run {target.run_id} is {state.name} after a successful interrupt"
    return f"run {target.run_id} {state.name}"


async def interrupt_async(target: Target) -> None:
    assert target.run_id
    try:
        await OFSSchedulerHook().ainterrupt(target.batch_name, target.run_id)
    finally:
        await close_shared_sessions()


def watch_with_trigger(target: Target) -> tuple[str, str]:
    """Run ``OFSBatchRunTrigger`` on an event loop as a triggerer would, and read its one event."""
    assert target.run_id
    trigger = OFSBatchRunTrigger(target.run_id, poll_interval=0.02, batch_name=target.batch_name)

    async def first_event() -> dict[str, object]:
        try:
            async for event in trigger.run():
                return dict(event.payload)
            raise AssertionError("the trigger ended without an event")
        finally:
            await close_shared_sessions()

    payload = asyncio.run(asyncio.wait_for(first_event(), 30))
    assert payload["run_id"] == target.run_id
    message = str(payload["message"])
    if payload["status"] == "success":
        return Outcome.RECOVERED.value, message
    if "OFSTokenUnavailableError" in message:
        return Outcome.NO_TOKEN.value, message
    if payload["refused"]:  # an error no retry can fix: the connection's settings
        return Outcome.CONFIGURATION.value, message
    if FailureKind.NOT_CONNECTED.value in message:
        return Outcome.NOT_REACHED.value, message
    return f"failed: {payload['status']} event", message


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.key)
@pytest.mark.parametrize("call", CALLS, ids=lambda call: call.key)
def test_call_recovers_or_fails_clearly_and_never_creates_two_runs(
    call: Call,
    fault: Fault,
    rel_simulator: Simulator,
    fault_matrix_results: dict[tuple[str, str], Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulator = rel_simulator
    simulator.reset()
    monkeypatch.setenv(CONN_ENV_VAR, simulator.connection_json(**CONNECTION_EXTRAS))
    target = prepare(call.verb, simulator)
    runs_before = runs_changed(call.verb, simulator)
    arm(fault, call, simulator)
    calls_before = simulator.journal.count(call.verb)
    password_grants_before = simulator.journal.token_requests("password")

    outcome, detail = perform(call, target, simulator)

    runs = runs_changed(call.verb, simulator) - runs_before
    observed = Result(outcome, runs, detail)
    fault_matrix_results[(call.key, fault.key)] = observed
    assert observed == expected(call, fault), f"{call.label} under {fault.label}: {detail}"
    assert runs <= 1, f"{call.label} under {fault.label} created or changed {runs} runs"
    credentials = simulator.credentials
    for secret in (credentials.password, credentials.client_secret):
        assert secret not in detail
    if outcome == Outcome.OUTCOME_UNKNOWN.value:
        assert f"ESI {call.verb}" in detail
        assert "may have been processed" in detail
        assert "not repeated" in detail
        assert simulator.journal.count(call.verb) - calls_before == 1, "the call was sent once, never repeated"
    if outcome == Outcome.NO_TOKEN.value:
        assert "IAM token endpoint" in detail or "token request" in detail, detail
        assert simulator.journal.count(call.verb) == calls_before, "nothing may be sent to ESI without a token"
    if fault.expire_tokens:  # 401: a new token was obtained once and the call repeated once
        first, repeated = simulator.journal.entries(call.verb)[calls_before : calls_before + 2]
        assert (first.http_status, repeated.http_status) == (401, 200)
        grant = "password" if fault.revoke_refresh_tokens else "refresh_token"
        assert simulator.journal.token_requests(grant) >= 1
        new_password_grants = simulator.journal.token_requests("password") - password_grants_before
        assert new_password_grants == (1 if fault.revoke_refresh_tokens else 0)


@pytest.mark.parametrize("fault", PROXY_FAULTS, ids=lambda fault: fault.key)
@pytest.mark.parametrize("transport", TRANSPORTS, ids=lambda transport: transport.key)
@pytest.mark.parametrize("call", CALLS, ids=lambda call: call.key)
def test_through_a_proxy_a_call_is_repeated_only_when_nothing_reached_esi(
    call: Call,
    transport: Transport,
    fault: ProxyFault,
    rel_simulator: Simulator,
    rel_tls_simulator: tuple[Simulator, str],
    fault_matrix_results: dict[tuple[str, str], Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulator, ca_bundle = rel_tls_simulator if transport.tls else (rel_simulator, "")
    simulator.reset()
    proxy = ForwardProxy()
    try:
        connect = through(simulator, ca_bundle, monkeypatch)
        connect(proxy.url)
        target = prepare(call.verb, simulator)
        runs_before = runs_changed(call.verb, simulator)
        case = fault.case(transport)
        if case.service:
            simulator.add_fault(call.verb, list(case.service))
        proxy.faults = list(case.proxy)
        if fault.credentials:
            proxy.credentials = "proxyuser:proxy-password"
        if fault.proxy_down:
            connect(f"http://127.0.0.1:{closed_port()}")
        calls_before = simulator.journal.count(call.verb)

        outcome, detail = perform(call, target, simulator)
    finally:
        proxy.stop()

    runs = runs_changed(call.verb, simulator) - runs_before
    observed = Result(outcome, runs, detail)
    fault_matrix_results[(call.key, proxy_key(transport, fault))] = observed
    assert observed == proxy_expected(call, transport, fault), f"{call.label} {transport.key}, {fault.label}: {detail}"
    if outcome == Outcome.OUTCOME_UNKNOWN.value:
        assert simulator.journal.count(call.verb) - calls_before <= 1, "the call reached ESI once at most"
        assert "not repeated" in detail
    if outcome in (Outcome.NOT_REACHED.value, Outcome.CONFIGURATION.value):
        assert simulator.journal.count(call.verb) == calls_before, "nothing reached ESI"
        assert "proxy-password" not in detail


def through(simulator: Simulator, ca_bundle: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``connect(proxy_url)``: the default connection to ``simulator`` through that proxy, with a pre-issued
    token (so the proxy carries ESI calls only, and the fault meets the call under test)."""
    verify = {"verify": ca_bundle} if ca_bundle else {}
    monkeypatch.setenv(CONN_ENV_VAR, simulator.connection_json(**verify))
    token = OFSSchedulerHook().get_token()

    def connect(proxy_url: str) -> None:
        extras = {**CONNECTION_EXTRAS, **verify, "access_token": token, "proxy": proxy_url}
        monkeypatch.setenv(CONN_ENV_VAR, json.dumps(simulator.connection_dict(**extras)))

    return connect


def between(text: str, begin: str, end: str) -> str:
    """The part of ``text`` between two markers (an assertion names missing ones)."""
    assert begin in text, f"{DOCS} lost its marker {begin}"
    assert end in text, f"{DOCS} lost its marker {end}"
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


def replaced(text: str, begin: str, end: str, table: str) -> str:
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    return f"{head}{begin}\n{table}\n{end}{tail}"


@pytest.mark.parametrize(
    ("begin", "end", "table"),
    [
        (DOCS_BEGIN, DOCS_END, expected_table),
        (PROXY_BEGIN, PROXY_END, proxy_tables),
        (ACCEPTED_BEGIN, ACCEPTED_END, accepted_table),
    ],
    ids=["one-try", "through-a-proxy", "ofs-accepted-across-tries"],
)
def test_docs_show_the_fault_matrix_the_tests_enforce(begin: str, end: str, table: Any) -> None:
    generated = table()
    if os.environ.get("OFS_WRITE_FAULT_MATRIX"):
        DOCS.write_text(replaced(DOCS.read_text(), begin, end, generated))

    documented = between(DOCS.read_text(), begin, end)

    assert documented == generated, (
        f"{DOCS} is out of date with tests/reliability/fault_matrix.py; "
        "regenerate it with OFS_WRITE_FAULT_MATRIX=1 pytest tests/reliability/test_fault_matrix.py"
    )
