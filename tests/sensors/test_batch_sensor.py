"""``OFSBatchRunSensor`` called directly against the simulator (its Airflow runs are in tests/operators)."""

from __future__ import annotations

import time

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

from airflow_provider_ofs.exceptions import OFSRunFailedError
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from airflow_provider_ofs.states import RunState
from airflow_provider_ofs.triggers.batch import OFSBatchRunTrigger
from airflow_provider_ofs.watching import EventStatus, WatchEvent

CATALOGUE = {
    "batches": {
        "SLOW": {"tasks": [{"code": "FIRST", "seconds": 0.1}, {"code": "LONG", "seconds": 600}]},
        "BROKEN": {"tasks": [{"code": "BREAKS", "seconds": 0.1, "outcome": "fail"}]},
    }
}


@pytest.fixture
def sim(ofs_simulator_factory, monkeypatch):
    simulator = ofs_simulator_factory(CATALOGUE)
    monkeypatch.setenv(CONN_ENV_VAR, simulator.connection_json(retry_wait=0.01))
    return simulator


def wait_until_state(run_id: str, state: RunState) -> None:
    for _ in range(200):
        if OFSSchedulerHook().get_status(run_id).state is state:
            return
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} never reached {state.name}")


def test_poke_keeps_waiting_while_the_run_is_going(sim):
    run_id = OFSSchedulerHook().trigger("SLOW")

    assert OFSBatchRunSensor(task_id="s", batch_run_id=run_id).poke({}) is False


def test_poke_succeeds_when_the_watched_task_is_done_though_the_run_is_not(sim):
    run_id = OFSSchedulerHook().trigger("SLOW")
    sensor = OFSBatchRunSensor(task_id="s", batch_run_id=run_id, tasks=["FIRST"])

    wait_until_state(run_id, RunState.ONGOING)
    for _ in range(200):
        if sensor.poke({}):
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the watched task never counted as done")


def test_poke_raises_when_the_run_failed(sim):
    run_id = OFSSchedulerHook().trigger("BROKEN")
    wait_until_state(run_id, RunState.FAILED)

    with pytest.raises(OFSRunFailedError, match="failed: BREAKS"):
        OFSBatchRunSensor(task_id="s", batch_run_id=run_id).poke({})


def test_deferrable_sensor_defers_without_interrupting_on_kill_and_with_its_timeout_as_deadline(sim):
    run_id = OFSSchedulerHook().trigger("SLOW")
    sensor = OFSBatchRunSensor(task_id="s", batch_run_id=run_id, deferrable=True, timeout=60, poll_interval=0.5)

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})

    trigger = deferred.value.trigger
    assert isinstance(trigger, OFSBatchRunTrigger)
    assert trigger.batch_run_id == run_id
    assert trigger.interrupt_on_kill is False
    assert trigger.poll_interval == 0.5
    assert trigger.deadline is not None
    assert trigger.deadline - trigger.waiting_since == pytest.approx(60, abs=1)
    assert deferred.value.timeout is None


def test_timeout_event_is_a_sensor_timeout():
    sensor = OFSBatchRunSensor(task_id="s", batch_run_id="R1")

    with pytest.raises(AirflowSensorTimeout, match="R1 did not finish"):
        sensor.execute_complete({}, WatchEvent(EventStatus.TIMEOUT, "R1", "OFS run R1 did not finish").payload())


def test_failed_event_raises_naming_the_failed_task():
    sensor = OFSBatchRunSensor(task_id="s", batch_run_id="R1")
    event = WatchEvent(EventStatus.FAILED, "R1", "", RunState.ABORTED, ["T1"])

    with pytest.raises(OFSRunFailedError, match=r"R1 ended ABORTED .*failed: T1"):
        sensor.execute_complete({}, event.payload())


def test_empty_run_id_is_rejected_at_construction():
    with pytest.raises(ValueError, match="batch_run_id must be an OFS run id"):
        OFSBatchRunSensor(task_id="s", batch_run_id="")


@pytest.mark.parametrize(
    ("rendered", "says"),
    [
        ("R1\n2026-03-31 INFO forged log line", "it holds a line break"),
        ("R" * 257, "257 characters long"),
    ],
)
def test_a_rendered_run_id_that_is_no_run_id_fails_before_anything_is_published(rendered, says):
    """As a sensor fed ``TRIGGERING_BATCH_RUN_ID`` from a posted event meets it: the run id rule, not only non-blank."""
    sensor = OFSBatchRunSensor(task_id="s", batch_run_id="{{ params.run }}")
    sensor.batch_run_id = rendered  # what Airflow rendered

    with pytest.raises(ValueError, match=f"batch_run_id must be an OFS run id, and .* is not: .*{says}"):
        sensor.execute({})  # no task instance: had it got further, publishing the id would fail differently

    assert sensor.watched_run_id is None
