"""``if_succeeded_for_mis_date="skip"`` skips only for a run OFS confirms: each claimed success, newest first, is
checked against the simulator (the run's form, OFS knowing it, its state) before the task skips.

The asset events are stand-ins (what Airflow's inlet-events accessor returns); the same policy under a real
scheduler, with an event posted through the REST API, is in ``tests/reliability/test_assets_under_a_scheduler.py``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_ofs import asset_events, skip_policy
from airflow_provider_ofs._compat import AirflowSkipException
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from airflow_provider_ofs.states import RunState

MIS_DATE = "2026-03-31"
CATALOGUE = {
    "batches": {
        "EOD": {"tasks": [{"code": "STEP", "seconds": 0.05}]},
        "EOD_FAILS": {"tasks": [{"code": "STEP", "seconds": 0.05, "outcome": "fail"}]},
        "OTHER": {"tasks": [{"code": "STEP", "seconds": 0.05}]},
    }
}
MONITOR = "https://ofs.example.com/monitor?run={run_id}"


@dataclass
class Event:
    """An asset event as Airflow's accessor returns it (posted through the REST API: no source DAG)."""

    extra: dict[str, Any]
    timestamp: str = "2026-04-01T02:00:00+00:00"
    source_dag_id: str | None = None
    source_run_id: str | None = None


@dataclass
class EodTask:
    """What the policy reads of the trigger operator."""

    batch_name: str = "EOD"
    mis_date: str = MIS_DATE
    hook: OFSSchedulerHook = field(default_factory=OFSSchedulerHook)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("test.skip_policy"))


@pytest.fixture
def sim(ofs_simulator_factory, monkeypatch):
    simulator = ofs_simulator_factory(CATALOGUE)
    monkeypatch.setenv(CONN_ENV_VAR, simulator.connection_json(retry_wait=0.01, monitor_url=MONITOR))
    return simulator


def events(monkeypatch: pytest.MonkeyPatch, *extras: dict[str, Any]) -> None:
    """The batch's asset holds these events, oldest first."""
    stored = [Event(extra) for extra in extras]
    monkeypatch.setattr(asset_events, "_events_of", lambda asset: stored)


def ended_run(batch: str, state: RunState) -> str:
    hook = OFSSchedulerHook()
    run_id = hook.trigger(batch, dynamic_params={"batchParams": {"$FICMISDATE$": MIS_DATE}})
    deadline = time.monotonic() + 10
    while hook.get_status(run_id).state is not state:
        assert time.monotonic() < deadline, f"{run_id} never became {state.name}"
        time.sleep(0.01)
    return run_id


def claim(run_id: Any, **extra: Any) -> dict[str, Any]:
    return {"batchRunId": run_id, "batchName": "EOD", "misDate": MIS_DATE, "state": "SUCCESSFUL", **extra}


def test_a_run_ofs_confirms_skips_with_the_connections_own_monitor_link(sim, monkeypatch, caplog):
    done = ended_run("EOD", RunState.SUCCESSFUL)
    events(monkeypatch, claim(done, monitorUrl="https://phish.example.com/"))

    with pytest.raises(AirflowSkipException) as skipped:
        skip_policy.skip_if_succeeded_before(EodTask())

    message = str(skipped.value)
    assert f"OFS run {done} of EOD for MIS date {MIS_DATE} already succeeded, as OFS confirms" in message
    assert MONITOR.format(run_id=done) in message
    assert "phish" not in message + caplog.text
    assert sim.journal.runs_created() == 1


@pytest.mark.parametrize(
    ("posted", "says"),
    [
        (lambda: f"EOD_{MIS_DATE}_1790000000000_1", "OFS does not know that run (code -3: Object does not exist)"),
        (
            lambda: ended_run("OTHER", RunState.SUCCESSFUL),
            f"OFS names the runs of EOD for that MIS date EOD_{MIS_DATE}_",
        ),
        (lambda: f"EOD_2026-03-30_{ended_run('EOD', RunState.SUCCESSFUL).rsplit('_', 2)[1]}_1", "OFS names the runs"),
        (lambda: "EOD_2026-03-31_1790000000000_1\nforged log line", "its batchRunId is not a run id"),
        (lambda: None, "its batchRunId is not a run id"),
    ],
    ids=["unknown-to-ofs", "another-batchs-run", "another-mis-date", "line-break", "no-run-id"],
)
def test_a_claim_ofs_does_not_confirm_is_logged_and_the_task_triggers(sim, monkeypatch, caplog, posted, says):
    run_id = posted()
    events(monkeypatch, claim(run_id))
    caplog.set_level(logging.INFO)

    skip_policy.skip_if_succeeded_before(EodTask())  # no skip: the operator goes on to trigger

    assert says in caplog.text
    assert "not skipping on it" in caplog.text
    assert "from an event posted to Airflow" in caplog.text
    assert all("\n" not in record.getMessage() for record in caplog.records), "one line per message"
    assert "(1 claimed): triggering" in caplog.text


def test_a_claimed_success_of_a_run_that_failed_does_not_skip(sim, monkeypatch, caplog):
    failed = f"EOD_FAILS_{MIS_DATE}"  # the batch of the task is EOD_FAILS here
    run_id = ended_run("EOD_FAILS", RunState.FAILED)
    assert run_id.startswith(failed)
    events(monkeypatch, {**claim(run_id), "batchName": "EOD_FAILS"})

    skip_policy.skip_if_succeeded_before(EodTask(batch_name="EOD_FAILS"))

    assert "OFS says it is FAILED" in caplog.text


def test_the_newest_confirmed_claim_wins_over_older_doubtful_ones_and_few_are_checked(sim, monkeypatch, caplog):
    done = ended_run("EOD", RunState.SUCCESSFUL)
    forged = [claim(f"EOD_{MIS_DATE}_17900000000{n:02d}_1") for n in range(skip_policy.MAX_CLAIMS_CHECKED + 2)]
    events(monkeypatch, claim(done), *forged)  # the forged ones are newer
    statuses = sim.journal.count("status")

    skip_policy.skip_if_succeeded_before(EodTask())

    assert sim.journal.count("status") - statuses == skip_policy.MAX_CLAIMS_CHECKED, "one status call per check"
    assert f"({len(forged) + 1} claimed, the newest {skip_policy.MAX_CLAIMS_CHECKED} checked): triggering" in (
        caplog.text
    )

    events(monkeypatch, *forged[:2], claim(done))  # the real one newest
    with pytest.raises(AirflowSkipException):
        skip_policy.skip_if_succeeded_before(EodTask())
