"""``OFSBatchRunTrigger`` on a plain event loop against the simulator (connection from the env var)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from airflow_provider_ofs.exceptions import OFSRunFailedError, OFSRunTimeoutError
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from airflow_provider_ofs.states import RunState
from airflow_provider_ofs.triggers.batch import OFSBatchRunTrigger
from airflow_provider_ofs.watching import WatchEvent
from tests.hook.conftest import run_on_loop

QUICK = {"batches": {"QUICK": {"tasks": [{"code": "ONLY", "seconds": 0.1, "outcome": "success"}]}}}
# 0.5 s at the fixture's speed 50
MEDIUM = {"batches": {"MEDIUM": {"tasks": [{"code": "STEP", "seconds": 25, "outcome": "success"}]}}}
SLOW = {"batches": {"SLOW": {"tasks": [{"code": "LONG", "seconds": 600, "outcome": "success"}]}}}


def events(trigger: OFSBatchRunTrigger) -> list[dict[str, Any]]:
    """Every event the trigger yields before its generator ends."""

    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return run_on_loop(collect)


@pytest.fixture
def sim(ofs_simulator_factory, monkeypatch):
    def start(catalogue=None, **extra):
        simulator = ofs_simulator_factory(catalogue) if catalogue else ofs_simulator_factory()
        monkeypatch.setenv(CONN_ENV_VAR, simulator.connection_json(retry_wait=0.01, **extra))
        return simulator

    return start


def trigger_run(batch: str, batch_type: str = "batch", **kwargs: Any) -> str:
    return OFSSchedulerHook().trigger(batch, batch_type, **kwargs)


def test_successful_run_yields_one_success_event_with_the_final_state(sim):
    simulator = sim()
    run_id = trigger_run("OFS_DAILY_DATA_LOAD")

    (event,) = events(OFSBatchRunTrigger(run_id, poll_interval=0.05, batch_name="OFS_DAILY_DATA_LOAD"))

    assert event["status"] == "success"
    assert event["run_id"] == run_id
    assert event["state"] == "SUCCESSFUL"
    assert event["failed_tasks"] == []
    assert event["batch_name"] == "OFS_DAILY_DATA_LOAD"
    assert simulator.journal.runs_created() == 1


def test_failed_run_event_names_the_failed_task_code(sim):
    sim()
    run_id = trigger_run("OFS_LIQUIDITY_RISK")

    (event,) = events(OFSBatchRunTrigger(run_id, poll_interval=0.05))

    assert event["status"] == "failed"
    assert event["state"] == "FAILED"
    assert event["failed_tasks"] == ["CALC_LCR_FAILS_ALWAYS"]
    assert run_id in event["message"]
    assert "CALC_LCR_FAILS_ALWAYS" in event["message"]
    error = WatchEvent.from_payload(event).error()
    assert isinstance(error, OFSRunFailedError)
    assert (error.run_id, error.state, error.failed_tasks) == (run_id, RunState.FAILED, ["CALC_LCR_FAILS_ALWAYS"])


def test_aborted_run_is_a_failure(sim):
    sim()
    run_id = trigger_run("OFS_IFRS9_ECL")

    (event,) = events(OFSBatchRunTrigger(run_id, poll_interval=0.05))

    assert (event["status"], event["state"]) == ("failed", "ABORTED")
    assert event["failed_tasks"] == ["CALC_ECL_ABORTS"]


def test_group_failure_names_the_failed_child_run(sim):
    simulator = sim()
    run_id = trigger_run("OFS_RISK_GROUP", "group")

    (event,) = events(OFSBatchRunTrigger(run_id, poll_interval=0.05))

    assert event["status"] == "failed"
    children = {child.run_id: child for child in simulator.runs.values() if child.parent == run_id}
    failed_child = [rid for rid, child in children.items() if child.name == "OFS_LIQUIDITY_RISK"]
    assert event["failed_tasks"] == failed_child


def test_group_with_an_excluded_batch_succeeds(sim):
    sim()
    run_id = trigger_run("OFS_EOD_GROUP", "group", excluded_tasks=["OFS_REG_CAPITAL_CALC"])

    (event,) = events(OFSBatchRunTrigger(run_id, poll_interval=0.05))

    assert (event["status"], event["state"]) == ("success", "SUCCESSFUL")


def test_held_run_keeps_waiting_until_the_deadline_then_times_out(sim, capsys):
    sim()
    run_id = trigger_run("OFS_FTP_PROCESS", held_tasks="FTP_ALLOCATE")
    waiting_since = time.time()

    (event,) = events(
        OFSBatchRunTrigger(run_id, poll_interval=0.05, deadline=waiting_since + 1.0, waiting_since=waiting_since)
    )

    assert event["status"] == "timeout"
    assert event["state"] == "HELD"
    assert event["held_tasks"] == ["FTP_ALLOCATE"]
    assert event["waited_seconds"] >= 1.0
    assert capsys.readouterr().out.count("held (code 5) FTP_ALLOCATE") == 1, "logged once, not every poll"
    error = WatchEvent.from_payload(event).error()
    assert isinstance(error, OFSRunTimeoutError)
    assert (error.run_id, error.last_state) == (run_id, RunState.HELD)


def test_at_its_deadline_the_trigger_interrupts_the_run_itself_when_asked(sim):
    simulator = sim(SLOW)
    run_id = trigger_run("SLOW")

    (event,) = events(
        OFSBatchRunTrigger(
            run_id, poll_interval=0.05, batch_name="SLOW", deadline=time.time() + 0.3, interrupt_on_kill=True
        )
    )

    assert (event["status"], event["interrupted"]) == ("timeout", True)
    assert simulator.get_run(run_id).state.name == "INTERRUPTED"
    assert simulator.journal.count("interrupt") == 1
    assert "the run was interrupted" in event["message"]


def test_at_its_deadline_the_trigger_leaves_the_run_alone_without_interrupt_on_kill(sim):
    simulator = sim(SLOW)
    run_id = trigger_run("SLOW")

    (event,) = events(OFSBatchRunTrigger(run_id, poll_interval=0.05, batch_name="SLOW", deadline=time.time() + 0.3))

    assert (event["status"], event["interrupted"]) == ("timeout", False)
    assert simulator.get_run(run_id).state.name == "ONGOING"
    assert simulator.journal.count("interrupt") == 0


def test_each_state_change_is_logged_once(sim, capsys):
    sim()
    run_id = trigger_run("OFS_DAILY_DATA_LOAD")

    events(OFSBatchRunTrigger(run_id, poll_interval=0.01))

    output = capsys.readouterr().out
    assert output.count(f"OFS run {run_id}: ONGOING") == 1
    assert output.count("RECON_GL SUCCESSFUL") == 1
    assert output.count("LOAD_GL_DATA SUCCESSFUL") == 1


def test_transient_status_faults_are_retried_and_the_run_is_still_followed(sim):
    simulator = sim()
    run_id = trigger_run("OFS_FTP_PROCESS")
    simulator.add_fault("status", [503, "reset", "html", "garbage"])  # within the budget of 5 attempts

    (event,) = events(OFSBatchRunTrigger(run_id, poll_interval=0.05))

    assert event["status"] == "success"
    assert simulator.journal.count("status") >= 5


def test_spent_retry_budget_yields_an_error_event_that_keeps_the_run_id(sim):
    simulator = sim(retry_attempts=2)
    run_id = trigger_run("OFS_FTP_PROCESS")
    simulator.add_fault("status", [503, 503, 503])

    (event,) = events(OFSBatchRunTrigger(run_id, poll_interval=0.05))

    assert event["status"] == "error"
    assert event["run_id"] == run_id
    assert "may still be going" in event["message"]
    assert simulator.get_run(run_id).state.name != "INTERRUPTED"


def test_unknown_run_id_yields_an_error_event_naming_the_code(sim):
    sim()

    (event,) = events(OFSBatchRunTrigger("NO_SUCH_RUN", poll_interval=0.05))

    assert event["status"] == "error"
    assert "NO_SUCH_RUN" in event["message"]


def test_serialize_round_trip_rebuilds_an_equal_trigger():
    trigger = OFSBatchRunTrigger(
        "RUN_1",
        ofs_conn_id="ofs_other",
        poll_interval=2.5,
        tasks=["T1"],
        batch_name="B",
        deadline=1234.5,
        waiting_since=1000.0,
        interrupt_on_kill=True,
        first_look_at=1030.0,
    )

    classpath, kwargs = trigger.serialize()

    assert classpath == "airflow_provider_ofs.triggers.batch.OFSBatchRunTrigger"
    rebuilt = OFSBatchRunTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)

    assert json.loads(json.dumps(kwargs)) == kwargs, "plain JSON types only"


def test_trigger_rebuilt_from_serialize_resumes_the_same_run_and_triggers_nothing(sim):
    simulator = sim(MEDIUM)
    run_id = trigger_run("MEDIUM")
    first = OFSBatchRunTrigger(run_id, poll_interval=0.05, batch_name="MEDIUM")

    async def first_poll_then_stop() -> None:  # a triggerer that stops after the first poll
        generator = first.run()
        task = asyncio.ensure_future(generator.__anext__())
        await asyncio.sleep(0.1)
        assert not task.done(), "the run is still going, so the first trigger is still polling"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run_on_loop(first_poll_then_stop)
    _, kwargs = first.serialize()
    (event,) = events(OFSBatchRunTrigger(**kwargs))

    assert event["run_id"] == run_id
    assert event["status"] == "success"
    assert simulator.journal.runs_created() == 1
    assert simulator.journal.count("restart") == simulator.journal.count("rerun") == 0


def test_on_kill_interrupts_the_run(sim):
    simulator = sim(SLOW)
    run_id = trigger_run("SLOW")
    trigger = OFSBatchRunTrigger(run_id, poll_interval=0.05, batch_name="SLOW", interrupt_on_kill=True)

    run_on_loop(trigger.on_kill)

    assert simulator.get_run(run_id).state.name == "INTERRUPTED"


def test_on_kill_leaves_the_run_alone_without_interrupt_on_kill(sim):
    simulator = sim(SLOW)
    run_id = trigger_run("SLOW")

    run_on_loop(OFSBatchRunTrigger(run_id, batch_name="SLOW").on_kill)

    assert simulator.journal.count("interrupt") == 0
    assert simulator.get_run(run_id).state.name == "ONGOING"


def test_on_kill_of_a_finished_run_is_not_an_error(sim, capsys):
    sim(QUICK)
    run_id = trigger_run("QUICK")
    events(OFSBatchRunTrigger(run_id, poll_interval=0.02))

    run_on_loop(OFSBatchRunTrigger(run_id, batch_name="QUICK", interrupt_on_kill=True).on_kill)

    assert f"OFS run {run_id} had already ended; nothing to interrupt" in capsys.readouterr().out


def test_task_filter_succeeds_when_the_watched_tasks_succeeded_although_the_run_fails(sim):
    sim()
    run_id = trigger_run("OFS_LIQUIDITY_RISK")

    (event,) = events(OFSBatchRunTrigger(run_id, poll_interval=0.05, tasks=["LOAD_CASH_FLOWS"]))

    assert event["status"] == "success"


def test_task_filter_fails_when_the_run_ended_before_a_watched_task_ran(sim):
    sim()
    run_id = trigger_run("OFS_LIQUIDITY_RISK")

    (event,) = events(OFSBatchRunTrigger(run_id, poll_interval=0.05, tasks=["PUBLISH_LCR_REPORT"]))

    assert event["status"] == "failed"
    assert event["failed_tasks"] == ["PUBLISH_LCR_REPORT"]
    assert "before tasks PUBLISH_LCR_REPORT finished" in event["message"]


def test_concurrent_triggers_share_one_session_that_the_last_one_closes(sim, monkeypatch):
    from airflow_provider_ofs.hooks import async_client

    sim()
    run_ids = [trigger_run("OFS_FTP_PROCESS"), trigger_run("OFS_DAILY_DATA_LOAD")]
    sessions = []
    real_shared_session = async_client.shared_session

    def recording_shared_session(verify):
        session = real_shared_session(verify)
        sessions.append(session)
        return session

    monkeypatch.setattr(async_client, "shared_session", recording_shared_session)

    async def both() -> list[dict[str, Any]]:
        triggers = [OFSBatchRunTrigger(run_id, poll_interval=0.02) for run_id in run_ids]
        results = await asyncio.gather(*[anext(aiter(trigger.run())) for trigger in triggers])
        return [event.payload for event in results]

    payloads = asyncio.run(both())

    assert [payload["status"] for payload in payloads] == ["success", "success"]
    assert len(sessions) >= 2, "each trigger polled"
    assert len({id(session) for session in sessions}) == 1, "every poll of both triggers used one session"
    assert sessions[0].closed, "the last trigger on the loop closed the session"


def test_a_trigger_refuses_a_zero_poll_interval_rather_than_polling_in_a_busy_loop():
    with pytest.raises(ValueError, match=r"poll_interval must be at least 0\.01 s"):
        OFSBatchRunTrigger(batch_run_id="R1", poll_interval=0)
