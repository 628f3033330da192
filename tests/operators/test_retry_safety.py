"""Where an Airflow retry cannot reconnect to a run (Airflow before 3.3, or ``durable=False``), no retry acts twice.

Called directly against the simulator, on every supported Airflow; the same rules in a real Airflow with
``retries=2`` are in ``tests/reliability/test_airflow_retries.py``.
"""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_ofs._compat import is_airflow_retry
from airflow_provider_ofs.exceptions import OFSRunFailedError, OFSRunLostError, OFSTransportError
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.operators.batch import (
    OFSRerunBatchOperator,
    OFSRestartBatchOperator,
    OFSTriggerBatchOperator,
)
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from airflow_provider_ofs.states import RunState
from tests.operators.task_context import TaskInstance

CATALOGUE = {
    "batches": {
        "FLAKY": {"tasks": [{"code": "STEP", "seconds": 0.1, "outcome": "fail_once"}]},
        "QUICK": {"tasks": [{"code": "STEP", "seconds": 0.1}]},
        "SLOW": {"tasks": [{"code": "LONG", "seconds": 25}]},
    }
}


@pytest.fixture
def sim(ofs_simulator_factory, monkeypatch):
    simulator = ofs_simulator_factory(CATALOGUE)
    monkeypatch.setenv(CONN_ENV_VAR, simulator.connection_json(retry_wait=0.01, retry_attempts=2))
    return simulator


def wait_for(run_id: str, state: RunState) -> None:
    while OFSSchedulerHook().get_status(run_id).state is not state:
        pass


@pytest.mark.parametrize(
    ("try_number", "max_tries", "retries", "retrying"),
    [
        (1, 2, 2, False),  # first try
        (2, 2, 2, True),  # Airflow's retry
        (3, 2, 2, True),  # the last retry
        (2, 3, 2, False),  # cleared after try 1: max_tries = 1 + retries
        (4, 5, 2, False),  # cleared after try 3
        (5, 5, 2, True),  # a retry after that clear
        (1, 0, 0, False),  # no retries at all
    ],
)
def test_a_retry_is_told_apart_from_the_first_try_of_a_run_or_of_a_clear(try_number, max_tries, retries, retrying):
    assert is_airflow_retry(TaskInstance(try_number, max_tries), retries) is retrying


def test_without_a_task_instance_it_counts_as_a_retry_so_nothing_is_started_twice():
    assert is_airflow_retry(None, 2) is True


def test_a_lost_wait_for_a_triggered_run_fails_for_good_naming_the_run(sim):
    sim.add_fault("status", [503, 503])  # spends retry_attempts=2
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="SLOW", poll_interval=0.02, durable=False)

    with pytest.raises(OFSRunLostError) as raised:
        operator.execute({"ti": TaskInstance(1, 2)})

    [run_id] = [entry.run_id for entry in sim.journal.entries("trigger")]
    assert isinstance(raised.value, AirflowFailException)
    assert raised.value.run_id == run_id
    assert f"Watch run {run_id} with OFSBatchRunSensor" in str(raised.value)
    assert isinstance(raised.value.__cause__, OFSTransportError)
    assert sim.journal.runs_created() == 1


def test_a_failed_run_stays_retryable(sim):
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="FLAKY", poll_interval=0.02, durable=False)

    with pytest.raises(OFSRunFailedError) as raised:
        operator.execute({"ti": TaskInstance(1, 2)})

    assert not isinstance(raised.value, AirflowFailException)


def test_a_restart_retry_watches_the_run_a_previous_try_restarted_instead_of_restarting_again(sim):
    failed = OFSSchedulerHook().trigger("FLAKY")
    wait_for(failed, RunState.FAILED)
    restarted = OFSSchedulerHook().restart("FLAKY", failed)  # what the first try did before it was lost
    operator = OFSRestartBatchOperator(
        task_id="r", batch_name="FLAKY", batch_run_id=failed, poll_interval=0.02, durable=False, retries=2
    )

    assert operator.execute({"ti": TaskInstance(2, 2)}) == restarted

    assert sim.journal.count("restart") == 1


def test_a_restart_on_its_first_try_restarts(sim):
    failed = OFSSchedulerHook().trigger("FLAKY")
    wait_for(failed, RunState.FAILED)
    operator = OFSRestartBatchOperator(
        task_id="r", batch_name="FLAKY", batch_run_id=failed, poll_interval=0.02, durable=False, retries=2
    )

    operator.execute({"ti": TaskInstance(1, 2)})

    assert sim.journal.count("restart") == 1


def test_a_rerun_whose_wait_is_lost_fails_for_good_naming_the_new_run(sim):
    done = OFSSchedulerHook().trigger("QUICK")
    wait_for(done, RunState.SUCCESSFUL)
    sim.add_fault("status", [503, 503])
    operator = OFSRerunBatchOperator(
        task_id="r", batch_name="QUICK", batch_run_id=done, poll_interval=0.02, durable=False, retries=2
    )

    with pytest.raises(OFSRunLostError) as raised:
        operator.execute({"ti": TaskInstance(1, 2)})

    [rerun] = sim.journal.entries("rerun")
    assert raised.value.run_id == rerun.run_id
    assert sim.journal.count("rerun") == 1
