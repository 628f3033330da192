"""Operators, sensor and trigger in a real Airflow: ``airflow dags test`` of tests/dags/ops_batch_dags.py.

One DAG run per mode (worker waits in ``ops_sync``, triggerer waits in ``ops_deferrable``; ``dags test``
runs triggers inline). Each task is one scenario; its outcome and log are read from the output.

Durable retries (Airflow 3.3+): task ``durable_retry_reconnects`` (retries=1) keeps its run id in the
task-state store, then loses contact with ESI (the catalogue serves two 503s to its status calls, which
spends the connection's retry budget of two). Its second try must find the stored run and reconnect to
it (or return at once if it already succeeded) instead of triggering a second run.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from airflow_provider_ofs._compat import HAS_TASK_STATE_STORE
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from tests.dags.ops_batch_dags import ops_catalogue, ops_connection_extras

pytestmark = pytest.mark.airflow_e2e

START = re.compile(r"\[DAG TEST\] starting task_id=(\w+)")
NEW_STATE = re.compile(r"new_state=(\w+)")


def by_task(output: str) -> tuple[dict[str, str], dict[str, str]]:
    """Each task's final state and its log (every try), from ``airflow dags test`` output."""
    states: dict[str, str] = {}
    logs: dict[str, list[str]] = defaultdict(list)
    task = None
    for line in output.splitlines():
        if started := START.search(line):
            task = started.group(1)
        if task is None:
            continue
        logs[task].append(line)
        if (state := NEW_STATE.search(line)) and state.group(1) not in ("deferred", "running"):
            states[task] = state.group(1)
    return states, {name: "\n".join(lines) for name, lines in logs.items()}


@pytest.fixture(scope="module", params=["ops_sync", "ops_deferrable"])
def dag_run(request, airflow_cli, tmp_path_factory):
    """One ``airflow dags test`` per mode against its own simulator: (simulator, states, logs)."""
    from airflow_provider_ofs.simulator.simulator import Simulator

    with Simulator(ops_catalogue(), speed=50) as simulator:
        run = airflow_cli.dags_test(
            request.param, env={CONN_ENV_VAR: simulator.connection_json(**ops_connection_extras())}
        )
        states, logs = by_task(run.output)
        assert states, run.output[-3000:]
        yield simulator, states, logs


def test_successful_batch_succeeds_with_mis_date_and_params(dag_run):
    simulator, states, logs = dag_run

    assert states["succeed"] == "success"
    run = next(run for run in simulator.runs.values() if run.name == "OFS_DAILY_DATA_LOAD" and not run.parent)
    assert run.params["batchParams"]["RUN_TYPE"] == "EOD"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", run.mis_date)
    assert f"OFS run {run.run_id} of OFS_DAILY_DATA_LOAD succeeded" in logs["succeed"]


def test_failed_batch_fails_the_task_naming_the_failed_task_code(dag_run):
    _, states, logs = dag_run

    assert states["fail"] == "failed"
    failure = r"OFSRunFailedError: OFS run OFS_LIQUIDITY_RISK_\S+ ended FAILED .*CALC_LCR_FAILS_ALWAYS"
    assert re.search(failure, logs["fail"])


def test_run_id_is_in_xcom_before_waiting_so_a_restart_can_follow_a_failed_task(dag_run):
    simulator, states, logs = dag_run

    assert simulator.journal.count("restart", "OFS_LIQUIDITY_RISK") == 1
    assert states["restart_failed_run"] == "failed", "the batch fails again after the restart"
    assert "CALC_LCR_FAILS_ALWAYS" in logs["restart_failed_run"]


def test_interrupted_run_fails_the_sensor_and_a_second_interrupt_counts_as_done(dag_run):
    _, states, logs = dag_run

    assert states["interrupt_slow"] == "success"
    assert states["interrupt_slow_again"] == "success"
    assert "already interrupted (code -7)" in logs["interrupt_slow_again"]
    assert states["sense_interrupted"] == "failed"
    assert "ended INTERRUPTED (code -2: Interrupted)" in logs["sense_interrupted"]


def test_group_with_an_excluded_batch_succeeds(dag_run):
    simulator, states, _ = dag_run

    assert states["group_with_excluded_batch"] == "success"
    group = next(run for run in simulator.runs.values() if run.name == "OFS_EOD_GROUP")
    assert group.excluded == ("OFS_REG_CAPITAL_CALC",)


def test_fail_once_batch_succeeds_after_one_logged_restart(dag_run):
    simulator, states, logs = dag_run

    assert states["restart_after_failure"] == "success"
    assert "restarting it (restart 1 of 1)" in logs["restart_after_failure"]
    assert simulator.journal.count("restart", "OFS_REG_CAPITAL_CALC") == 1


def test_held_run_times_out_is_interrupted_and_names_its_last_state(dag_run):
    _, states, logs = dag_run

    assert states["time_out"] == "failed"
    assert "held (code 5) FTP_ALLOCATE" in logs["time_out"]
    timeout = r"OFSRunTimeoutError: OFS run \S+ did not finish within [\d.]+ s; last state HELD"
    assert re.search(timeout, logs["time_out"])
    assert "Interrupted OFS run" in logs["time_out"]


def test_sensors_on_an_existing_run_and_rerun_of_it(dag_run):
    simulator, states, logs = dag_run

    assert states["start_ftp"] == states["sense_ftp"] == states["sense_ftp_task"] == "success"
    assert states["rerun_ftp"] == "success"
    assert simulator.journal.count("rerun", "OFS_FTP_PROCESS") == 1
    assert re.search(r"OFS run OFS_FTP_PROCESS_\S+ of OFS_FTP_PROCESS succeeded", logs["rerun_ftp"])


@pytest.mark.skipif(not HAS_TASK_STATE_STORE, reason="the task-state store arrived in Airflow 3.3")
def test_retry_reconnects_to_the_stored_run_instead_of_triggering_again(dag_run):
    simulator, states, logs = dag_run

    assert states["durable_retry_reconnects"] == "success"
    assert "up_for_retry" in logs["durable_retry_reconnects"], "the first try failed"
    assert simulator.journal.runs_created("DURABLE") == 1
    assert re.search(
        r"Reconnecting to existing job|Job already completed successfully", logs["durable_retry_reconnects"]
    )
