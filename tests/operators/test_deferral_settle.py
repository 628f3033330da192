"""A deferring task looks at its run first, and its trigger looks no sooner than the settle time after deferring.

Airflow 3 fails a deferred task that resumes before the scheduler has heard that the deferring process exited
(apache/airflow#72716). A run already over never defers, and the trigger's first status call waits out the
settle time (``[ofs] deferral_settle_seconds``). The race itself is shown under a real scheduler by
``tests/ui/test_example_dags_scheduled.py``.
"""

from __future__ import annotations

import time

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.operators.batch import OFSTriggerBatchOperator
from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from airflow_provider_ofs.triggers.batch import OFSBatchRunTrigger
from airflow_provider_ofs.watching import first_trigger_look
from tests.triggers.test_batch_trigger import events

QUICK = {"batches": {"QUICK": {"tasks": [{"code": "ONLY", "seconds": 0.01, "outcome": "success"}]}}}
SLOW = {"batches": {"SLOW": {"tasks": [{"code": "LONG", "seconds": 600, "outcome": "success"}]}}}


@pytest.fixture
def simulator(ofs_simulator_factory, monkeypatch):
    started = ofs_simulator_factory({"batches": QUICK["batches"] | SLOW["batches"]})
    monkeypatch.setenv(CONN_ENV_VAR, started.connection_json(retry_wait=0.01))
    return started


def test_the_first_look_waits_a_poll_and_at_least_the_settle_time():
    assert first_trigger_look(1000.0, pause=60.0, settle=30.0) == 1060.0
    assert first_trigger_look(1000.0, pause=0.5, settle=30.0) == 1030.0
    assert first_trigger_look(1000.0, pause=0.5, settle=0.0) == 1000.5


def test_a_deferrable_trigger_whose_run_is_already_over_succeeds_without_deferring(ofs_simulator_factory, monkeypatch):
    instant = ofs_simulator_factory(QUICK, speed=1000)  # the run is over by the first status call
    monkeypatch.setenv(CONN_ENV_VAR, instant.connection_json(retry_wait=0.01))
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="QUICK", deferrable=True, poll_interval=0.05)

    run_id = operator.execute({})  # no TaskDeferred

    [run] = instant.runs.values()
    assert run_id == run.run_id
    assert instant.journal.count("status") == 1


def test_a_deferring_trigger_sets_its_first_look_the_settle_time_ahead(simulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW__OFS__DEFERRAL_SETTLE_SECONDS", "30")
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="SLOW", deferrable=True, poll_interval=0.05)
    before = time.time()

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({})

    trigger = deferred.value.trigger
    assert isinstance(trigger, OFSBatchRunTrigger)
    assert before + 30 <= trigger.first_look_at <= time.time() + 30
    assert simulator.journal.count("status") == 1, "the worker looked once before deferring"


def test_a_deferring_sensor_sets_its_first_look_the_settle_time_ahead(simulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW__OFS__DEFERRAL_SETTLE_SECONDS", "30")
    run_id = OFSSchedulerHook().trigger("SLOW")
    sensor = OFSBatchRunSensor(task_id="s", batch_run_id=run_id, deferrable=True, poll_interval=0.05)
    before = time.time()

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})

    assert before + 30 <= deferred.value.trigger.first_look_at <= time.time() + 30


def test_the_trigger_makes_no_status_call_before_its_first_look(simulator):
    run_id = OFSSchedulerHook().trigger("QUICK")
    first_look_at = time.time() + 0.5
    trigger = OFSBatchRunTrigger(run_id, poll_interval=0.05, first_look_at=first_look_at)

    (event,) = events(trigger)

    assert event["status"] == "success"
    assert min(entry.at for entry in simulator.journal.entries("status")) >= first_look_at
