"""A triggerer that dies mid-watch: the trigger rebuilt from ``serialize()`` follows the same run to the right end.

The first "triggerer" runs ``OFSBatchRunTrigger.run()`` on its own event loop and is cancelled at a
chosen moment: between two polls, in the middle of a status call that the simulator answers slowly,
or in the backoff after a 503. The second one starts from nothing but the serialized form, as a new
triggerer process would (class path imported by name, arguments through JSON, empty token cache).
"""

from __future__ import annotations

import asyncio
import json
import time
from importlib import import_module
from typing import Any

import pytest

from airflow_provider_ofs.hooks.async_client import close_shared_sessions
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.simulator import Simulator
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from airflow_provider_ofs.tokens import TOKEN_CACHE
from airflow_provider_ofs.triggers.batch import OFSBatchRunTrigger
from tests.reliability.catalogues import SLOWISH_CATALOGUE

#: Where the first triggerer is cancelled, and the fault that puts it there.
CANCEL_POINTS = {
    "between_polls": [],
    "during_a_slow_status_call": ["slow"],
    "during_the_backoff_after_a_503": [503],
}


def rebuild(serialized: tuple[str, dict[str, Any]]) -> Any:
    """What a triggerer does with a trigger row: import the class by its path, call it with the stored kwargs."""
    classpath, kwargs = serialized
    module_name, _, class_name = classpath.rpartition(".")
    return getattr(import_module(module_name), class_name)(**json.loads(json.dumps(kwargs)))


async def watch_until_cancelled(trigger: OFSBatchRunTrigger, simulator: Simulator, status_calls: int) -> None:
    """Run the trigger until the simulator has seen ``status_calls`` status calls, then cancel it."""
    task = asyncio.ensure_future(trigger.run().__anext__())
    try:
        while simulator.journal.count("status") < status_calls:
            assert not task.done(), f"the trigger ended before it was cancelled: {task.result()!r}"
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # inside the slow answer, the backoff, or the poll interval
        assert not task.done(), "the run is still going, so the trigger must still be watching"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await close_shared_sessions()


async def one_event(trigger: Any) -> list[dict[str, Any]]:
    try:
        return [event.payload async for event in trigger.run()]
    finally:
        await close_shared_sessions()


@pytest.mark.parametrize("cancel_point", CANCEL_POINTS)
@pytest.mark.parametrize(
    ("batch_name", "status", "failed_tasks"),
    [("REL_SLOWISH", "success", []), ("REL_SLOWISH_FAILS", "failed", ["REL_BREAKS"])],
    ids=["run_succeeds", "run_fails"],
)
def test_trigger_rebuilt_after_a_triggerer_dies_finishes_the_same_run_and_starts_nothing(
    ofs_simulator_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    cancel_point: str,
    batch_name: str,
    status: str,
    failed_tasks: list[str],
) -> None:
    simulator = ofs_simulator_factory(SLOWISH_CATALOGUE, speed=100, slow_seconds=0.5)
    monkeypatch.setenv(CONN_ENV_VAR, simulator.connection_json(timeout=5, retry_wait=0.3))
    run_id = OFSSchedulerHook().trigger(batch_name)
    deadline = time.time() + 600
    first = OFSBatchRunTrigger(run_id, poll_interval=0.2, batch_name=batch_name, deadline=deadline)
    simulator.add_fault("status", ["pass", *CANCEL_POINTS[cancel_point]])
    asyncio.run(watch_until_cancelled(first, simulator, status_calls=2))
    cancelled_at = time.time()
    calls_before_restart = len(simulator.journal)

    TOKEN_CACHE.clear()  # a new triggerer process starts without tokens
    events = asyncio.run(one_event(rebuild(first.serialize())))

    assert [event["status"] for event in events] == [status]
    (event,) = events
    assert event["run_id"] == run_id
    assert event["failed_tasks"] == failed_tasks
    assert event["deadline"] == deadline
    assert event["waited_seconds"] >= cancelled_at - first.waiting_since, "the wait counts from the first triggerer"
    later = simulator.journal.entries()[calls_before_restart:]
    assert {entry.verb for entry in later} <= {"status", "token"}, "the rebuilt trigger only watches"
    assert {entry.run_id for entry in later if entry.verb == "status"} == {run_id}
    assert simulator.journal.runs_created() == 1
    assert simulator.journal.count("trigger") == 1
    assert simulator.journal.count("restart") == simulator.journal.count("interrupt") == 0
