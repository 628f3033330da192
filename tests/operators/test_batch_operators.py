"""Operator arguments, completion and kill handling, called directly (the Airflow runs are in test_in_airflow)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred

from airflow_provider_ofs.exceptions import OFSRunLostError, OFSRunTimeoutError, OFSSchedulerError
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.operators.batch import (
    OFSInterruptBatchOperator,
    OFSRerunBatchOperator,
    OFSTriggerBatchOperator,
)
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from airflow_provider_ofs.states import RunState
from airflow_provider_ofs.triggers.batch import OFSBatchRunTrigger
from airflow_provider_ofs.watching import EventStatus, WatchEvent

SLOW = {"batches": {"SLOW": {"tasks": [{"code": "LONG", "seconds": 600, "outcome": "success"}]}}}


@pytest.fixture
def slow_sim(ofs_simulator_factory, monkeypatch):
    simulator = ofs_simulator_factory(SLOW)
    monkeypatch.setenv(CONN_ENV_VAR, simulator.connection_json(retry_wait=0.01))
    return simulator


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"batch_name": ""}, "batch_name must be a non-empty string"),
        ({"batch_name": "B", "batch_type": "chain"}, "batch_type must be 'batch' or 'group'"),
        ({"batch_name": "B", "poll_interval": -1}, "poll_interval must not be negative"),
        ({"batch_name": "B", "poll_interval": 0}, "poll_interval must be at least 0.01 s"),
        ({"batch_name": "B", "poll_interval": timedelta(0)}, "poll_interval must be at least 0.01 s"),
        ({"batch_name": "B", "timeout": "soon"}, "timeout must be a number of seconds"),
        ({"batch_name": "B", "max_restarts": -1}, "max_restarts must be a whole number"),
        ({"batch_name": "B", "mis_date": "31/12/2026"}, "mis_date must be a date in yyyy-mm-dd form"),
    ],
)
def test_bad_arguments_fail_at_construction_naming_the_argument(arguments, complaint):
    with pytest.raises(ValueError, match=complaint):
        OFSTriggerBatchOperator(task_id="t", **arguments)


def test_templated_arguments_are_validated_at_execute_start_before_any_call(monkeypatch):
    monkeypatch.delenv(CONN_ENV_VAR, raising=False)  # a call would fail differently: no connection
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="B", mis_date="{{ ds }}")
    operator.mis_date = "not-a-date"  # what a template rendered to

    with pytest.raises(ValueError, match="mis_date must be a date in yyyy-mm-dd form, not 'not-a-date'"):
        operator.execute({})


def test_templated_run_id_of_rerun_may_be_empty_until_rendered():
    operator = OFSRerunBatchOperator(task_id="t", batch_name="B", batch_run_id="{{ ti.xcom_pull('x') }}")

    assert operator.template_fields == ("batch_name", "batch_run_id", "ofs_conn_id")


def test_run_id_may_come_from_an_upstream_task_output():
    from airflow.providers.common.compat.sdk import DAG

    from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor

    with DAG("xcom_arg_run_id", schedule=None):
        start = OFSTriggerBatchOperator(task_id="start", batch_name="B", wait_for_completion=False)
        sensor = OFSBatchRunSensor(task_id="watch", batch_run_id=start.output)
        rerun = OFSRerunBatchOperator(task_id="rerun", batch_name="B", batch_run_id=start.output)

    assert start in sensor.upstream_list
    assert start in rerun.upstream_list


def test_interrupt_operator_rejects_an_empty_run_id():
    with pytest.raises(ValueError, match="batch_run_id must be an OFS run id"):
        OFSInterruptBatchOperator(task_id="t", batch_name="B", batch_run_id=" ")


def test_execute_complete_rejects_a_missing_event():
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="B")

    with pytest.raises(OFSSchedulerError, match="without an event"):
        operator.execute_complete({}, None)


def test_failed_event_with_restarts_left_restarts_and_defers_again_with_the_same_deadline(slow_sim):
    run_id = OFSSchedulerHook().trigger("SLOW")
    OFSSchedulerHook().interrupt("SLOW", run_id)
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="SLOW", max_restarts=1, poll_interval=0.1)
    event = WatchEvent(EventStatus.FAILED, run_id, "interrupted", RunState.INTERRUPTED, deadline=4e9, waited_seconds=2)

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute_complete({}, event.payload(), restarts_done=0)

    assert deferred.value.kwargs == {"restarts_done": 1}
    assert deferred.value.timeout is None
    trigger = deferred.value.trigger
    assert isinstance(trigger, OFSBatchRunTrigger)
    assert (trigger.batch_run_id, trigger.deadline, trigger.interrupt_on_kill) == (run_id, 4e9, True)
    assert slow_sim.journal.count("restart") == 1
    assert slow_sim.get_run(run_id).state.name == "ONGOING"


def test_failed_event_without_restarts_left_fails_naming_the_run(slow_sim):
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="SLOW", max_restarts=1)
    message = "OFS run R9 ended FAILED (code -1: Failure); failed: T1"
    event = WatchEvent(EventStatus.FAILED, "R9", message, RunState.FAILED, ["T1"])

    with pytest.raises(OFSSchedulerError, match=r"R9 ended FAILED .*failed: T1"):
        operator.execute_complete({}, event.payload(), restarts_done=1)

    assert slow_sim.journal.count("restart") == 0


def test_timeout_event_interrupts_the_run_and_fails(slow_sim):
    run_id = OFSSchedulerHook().trigger("SLOW")
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="SLOW")
    event = WatchEvent(EventStatus.TIMEOUT, run_id, "late", RunState.ONGOING, waited_seconds=7.0)

    with pytest.raises(OFSRunTimeoutError, match=f"{run_id} did not finish within 7 s; last state ONGOING"):
        operator.execute_complete({}, event.payload())

    assert slow_sim.get_run(run_id).state.name == "INTERRUPTED"


def test_timeout_event_leaves_the_run_alone_without_interrupt_on_kill_and_fails_for_good(slow_sim):
    run_id = OFSSchedulerHook().trigger("SLOW")
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="SLOW", interrupt_on_kill=False)

    # No task-state store here: a retry could not reconnect, so it would start a second run beside this one.
    with pytest.raises(OFSRunLostError, match=f"Watch run {run_id} with OFSBatchRunSensor") as raised:
        operator.execute_complete({}, WatchEvent(EventStatus.TIMEOUT, run_id, "", RunState.ONGOING).payload())

    assert isinstance(raised.value.__cause__, OFSRunTimeoutError)
    assert slow_sim.journal.count("interrupt") == 0


def test_timeout_event_of_a_run_the_trigger_interrupted_is_retryable_without_a_second_interrupt(slow_sim):
    run_id = OFSSchedulerHook().trigger("SLOW")
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="SLOW")
    event = WatchEvent(EventStatus.TIMEOUT, run_id, "", RunState.ONGOING, interrupted=True)

    with pytest.raises(OFSRunTimeoutError, match="the run was interrupted") as raised:
        operator.execute_complete({}, event.payload())

    assert not isinstance(raised.value, AirflowFailException)
    assert slow_sim.journal.count("interrupt") == 0


def test_on_kill_of_a_waiting_operator_interrupts_its_run(slow_sim):
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="SLOW")
    operator.watched_run_id = OFSSchedulerHook().trigger("SLOW")

    operator.on_kill()

    assert slow_sim.get_run(operator.watched_run_id).state.name == "INTERRUPTED"


def test_on_kill_is_best_effort_when_ofs_cannot_be_reached(slow_sim, capsys):
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="SLOW")
    operator.watched_run_id = "SLOW_RUN_1"
    slow_sim.stop()

    operator.on_kill()  # does not raise

    assert "Could not interrupt OFS run SLOW_RUN_1 of SLOW" in capsys.readouterr().out


def test_sync_wait_times_out_interrupts_and_names_the_last_state(slow_sim):
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="SLOW", timeout=0.3, poll_interval=0.05, durable=False)
    started = time.time()

    with pytest.raises(OFSRunTimeoutError, match="last state ONGOING") as raised:
        operator.execute({})

    assert time.time() - started < 30
    assert slow_sim.get_run(raised.value.run_id).state.name == "INTERRUPTED"
