"""The example DAGs parse cleanly and each one runs end to end (``airflow dags test``) against the simulator."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.recovery import MINIMUM_AIRFLOW
from airflow_provider_ofs.simulator import RunCode, RunView, Simulator
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from demo.airflow_home import DagRunOutcome, DemoAirflow
from tests.airflow_cli import AirflowCLI, AirflowRun

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
EXAMPLE_DAG_IDS = {
    "ofs_daily_data_load",
    "ofs_eod_group_to_reporting",
    "ofs_fire_then_watch",
    "ofs_manual_recovery",
    "ofs_mapped_batches",
    "ofs_reg_capital_auto_restart",
    "ofs_reporting_on_eod_group",
    "ofs_watch_announced_run",
}
if airflow_version() >= MINIMUM_AIRFLOW:
    EXAMPLE_DAG_IDS.add("ofs_ask_on_failure")  # recovery= asks in Required Actions: Airflow 3.3+
MIS_DATE = "2026-03-31"
#: What ``ofs_mapped_batches`` maps over (batches of the demo catalogue).
MAPPED_BATCHES = ["OFS_DAILY_DATA_LOAD", "OFS_FTP_PROCESS", "OFS_REG_CAPITAL_CALC"]
SPEED = 20.0  # the demo catalogue's batches take a few seconds; a twentieth of that here


@pytest.fixture(scope="module")
def example_airflow(airflow_cli: AirflowCLI, tmp_path_factory: pytest.TempPathFactory) -> AirflowCLI:
    """An Airflow home reading its DAGs from ``example_dags/``: the session's, or on 3.0 one of its own.

    Airflow 3.0's ``dags test`` looks the DAG up in the database, so there the examples are serialised
    first, into a home of their own (serialising replaces the DAGs the session's home knows).
    """
    if airflow_version() != (3, 0):
        return AirflowCLI(airflow_cli.home, EXAMPLE_DAGS)
    cli = AirflowCLI(tmp_path_factory.mktemp("example-airflow-home"), EXAMPLE_DAGS)
    for command in (("db", "migrate"), ("dags", "reserialize")):
        result = cli.run(*command)
        assert result.returncode == 0, result.output[-3000:]
    return cli


def dags_test(
    airflow: AirflowCLI, simulator: Simulator, dag_id: str, *, logical_date: str | None = None, conf: object = None
) -> tuple[AirflowRun, DagRunOutcome]:
    """``airflow dags test`` of an example DAG against ``simulator``, polling fast; the run as the DB recorded it."""
    args = ["dags", "test", dag_id]
    if logical_date:
        args.append(logical_date)
    if conf is not None:
        args += ["--conf", json.dumps(conf)]
    env = {CONN_ENV_VAR: simulator.connection_json(retry_wait=0.05), "OFS_EXAMPLE_POLL_INTERVAL": "0.1"}
    result = airflow.run(*args, env=env)
    dag_run = DemoAirflow(airflow.home, airflow.dags_folder).latest_dag_run(dag_id)
    assert dag_run is not None, result.output[-3000:]
    return result, dag_run


def task_states(dag_run: DagRunOutcome) -> dict[str, str]:
    return {task.task_id: task.state for task in dag_run.tasks}


def runs_of(simulator: Simulator, name: str) -> list[RunView]:
    return [view for view in simulator.runs.values() if view.name == name]


def wait_for_state(simulator: Simulator, run_id: str, state: RunCode, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while simulator.get_run(run_id).state is not state:
        assert time.monotonic() < deadline, f"{run_id} never reached {state.text}: {simulator.get_run(run_id)}"
        time.sleep(0.05)


def release_once_seen_held(simulator: Simulator, batch: str, within: float = 120.0) -> threading.Thread:
    """Play the OFS operator who releases held work (no ESI call can): once a status call has seen it held."""

    def release() -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            held = [view for view in runs_of(simulator, batch) if view.state is RunCode.HELD]
            if held:
                polls = simulator.journal.count("status")
                while simulator.journal.count("status") < polls + 2 and time.monotonic() < deadline:
                    time.sleep(0.05)
                simulator.release_held(held[0].run_id)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=release, name="release-held", daemon=True)
    thread.start()
    return thread


def test_every_example_dag_parses_without_import_errors_and_without_a_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CONN_ENV_VAR, raising=False)  # no connection anywhere: top-level code reads none
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2.11
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    dag_bag = DagBag(str(EXAMPLE_DAGS))

    assert dag_bag.import_errors == {}
    assert set(dag_bag.dag_ids) == EXAMPLE_DAG_IDS
    for dag in dag_bag.dags.values():
        assert dag.doc_md, f"{dag.dag_id} explains itself in the UI"
        assert "example" in dag.tags


@pytest.mark.airflow_e2e
def test_parsing_the_examples_registers_the_asset_of_each_batch_they_name(
    airflow_cli: AirflowCLI, tmp_path: Path
) -> None:
    """The first event of a batch finds its asset: otherwise Airflow creates it with the event, and two tasks
    emitting it at once (the night's scheduled run and one triggered by hand) failed one of them."""
    from airflow_provider_ofs._compat import IS_AIRFLOW_2

    if IS_AIRFLOW_2:
        pytest.skip("Airflow 2.11 registers the datasets of outlets only; its events create theirs")
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(airflow_cli.pristine_db, home / "airflow.db")
    cli = AirflowCLI(home, EXAMPLE_DAGS)

    parsed = cli.run("dags", "reserialize")

    assert parsed.returncode == 0, parsed.output[-3000:]
    with closing(sqlite3.connect(home / "airflow.db")) as db:
        uris = {uri for (uri,) in db.execute("SELECT uri FROM asset WHERE uri LIKE 'ofs://%'")}
    assert {
        "ofs://ofs_scheduler_default/OFS_DAILY_DATA_LOAD",  # ofs_daily_data_load's producers
        "ofs://ofs_scheduler_default/OFS_FTP_PROCESS",
        "ofs://ofs_scheduler_default/OFS_REG_CAPITAL_CALC",  # ofs_reg_capital_auto_restart
    } <= uris
    assert not any("{" in uri for uri in uris), uris  # a templated batch name is left to the alias


def test_daily_load_waits_for_held_work_to_be_released_then_runs_ftp_for_the_mis_date(
    example_airflow: AirflowCLI, ofs_simulator_factory: Callable[..., Simulator]
) -> None:
    simulator = ofs_simulator_factory(speed=SPEED)
    releaser = release_once_seen_held(simulator, "OFS_DAILY_DATA_LOAD")

    result, dag_run = dags_test(
        example_airflow, simulator, "ofs_daily_data_load", logical_date=MIS_DATE, conf={"held_tasks": "RECON_GL"}
    )
    releaser.join(timeout=5)

    assert dag_run.state == "success", result.output[-3000:]
    assert task_states(dag_run) == {"load_staging_data": "success", "run_funds_transfer_pricing": "success"}
    assert "held (code 5) RECON_GL" in result.output
    [load] = runs_of(simulator, "OFS_DAILY_DATA_LOAD")
    assert load.mis_date == MIS_DATE
    assert dict(load.tasks) == {
        "LOAD_GL_DATA": RunCode.SUCCESSFUL,
        "LOAD_CUSTOMER_ACCOUNTS": RunCode.SUCCESSFUL,
        "LOAD_MARKET_DATA": RunCode.EXCLUDED,
        "RECON_GL": RunCode.SUCCESSFUL,
    }
    [ftp] = runs_of(simulator, "OFS_FTP_PROCESS")
    assert (ftp.mis_date, ftp.state) == (MIS_DATE, RunCode.SUCCESSFUL)


@pytest.mark.airflow_e2e
@pytest.mark.compat
def test_eod_group_is_restarted_once_and_its_run_id_reaches_the_reporting_task(
    example_airflow: AirflowCLI, ofs_simulator_factory: Callable[..., Simulator]
) -> None:
    simulator = ofs_simulator_factory(speed=SPEED)

    result, dag_run = dags_test(example_airflow, simulator, "ofs_eod_group_to_reporting", logical_date=MIS_DATE)

    assert dag_run.state == "success", result.output[-3000:]
    assert task_states(dag_run) == {"run_eod_group": "success", "publish_to_reporting": "success"}
    [group] = runs_of(simulator, "OFS_EOD_GROUP")
    assert (group.state, group.attempt) == (RunCode.SUCCESSFUL, 2)
    assert simulator.journal.count("trigger") == 1
    assert simulator.journal.count("restart") == 1
    [ftp] = runs_of(simulator, "OFS_FTP_PROCESS")
    assert ftp.params["batchParams"]["RATE_CURVE"] == "EOD_20260331"
    assert ftp.mis_date == MIS_DATE
    assert f"'ofs_run_id': '{group.run_id}'" in result.output
    assert "'ofs_state': 'SUCCESSFUL'" in result.output


@pytest.mark.airflow_e2e
def test_fire_then_watch_returns_at_once_and_both_sensors_see_the_run_succeed(
    example_airflow: AirflowCLI, ofs_simulator_factory: Callable[..., Simulator]
) -> None:
    simulator = ofs_simulator_factory(speed=SPEED)

    result, dag_run = dags_test(example_airflow, simulator, "ofs_fire_then_watch")

    assert dag_run.state == "success", result.output[-3000:]
    assert set(task_states(dag_run).values()) == {"success"}
    assert len(dag_run.tasks) == 5
    [load] = runs_of(simulator, "OFS_DAILY_DATA_LOAD")
    assert load.state is RunCode.SUCCESSFUL
    assert simulator.journal.count("trigger") == 1
    assert f"General ledger loaded by OFS run {load.run_id}" in result.output


@pytest.mark.airflow_e2e
def test_regulatory_capital_failure_is_restarted_automatically_and_succeeds(
    example_airflow: AirflowCLI, ofs_simulator_factory: Callable[..., Simulator]
) -> None:
    simulator = ofs_simulator_factory(speed=SPEED)

    result, dag_run = dags_test(example_airflow, simulator, "ofs_reg_capital_auto_restart")

    assert dag_run.state == "success", result.output[-3000:]
    assert "CALC_CREDIT_RWA" in result.output
    assert "restarting it (restart 1 of 2)" in result.output
    [run] = runs_of(simulator, "OFS_REG_CAPITAL_CALC")
    assert (run.state, run.attempt) == (RunCode.SUCCESSFUL, 2)
    assert simulator.journal.count("restart") == 1


@pytest.mark.airflow_e2e
def test_manual_recovery_restarts_the_failed_run_named_in_its_params(
    example_airflow: AirflowCLI, ofs_simulator_factory: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

    simulator = ofs_simulator_factory(speed=SPEED)
    monkeypatch.setenv(CONN_ENV_VAR, simulator.connection_json())
    failed_run = OFSSchedulerHook().trigger("OFS_REG_CAPITAL_CALC")
    wait_for_state(simulator, failed_run, RunCode.FAILED)

    conf = {"batch_name": "OFS_REG_CAPITAL_CALC", "batch_run_id": failed_run, "action": "restart"}
    result, dag_run = dags_test(example_airflow, simulator, "ofs_manual_recovery", conf=conf)

    assert dag_run.state == "success", result.output[-3000:]
    states = task_states(dag_run)
    assert states["restart_run"] == "success"
    assert (states["rerun_run"], states["interrupt_run"]) == ("skipped", "skipped")
    run = simulator.get_run(failed_run)
    assert (run.state, run.attempt) == (RunCode.SUCCESSFUL, 2)


@pytest.mark.airflow_e2e
def test_mapped_batches_run_one_ofs_run_per_batch_and_the_summary_lists_them_in_order(
    example_airflow: AirflowCLI, ofs_simulator_factory: Callable[..., Simulator]
) -> None:
    simulator = ofs_simulator_factory(speed=SPEED)

    result, dag_run = dags_test(example_airflow, simulator, "ofs_mapped_batches", logical_date=MIS_DATE)

    assert dag_run.state == "success", result.output[-3000:]
    assert sorted(task.task_id for task in dag_run.tasks) == ["run_batch"] * len(MAPPED_BATCHES) + ["summarise"]
    assert set(task_states(dag_run).values()) == {"success"}
    runs = {}
    for batch in MAPPED_BATCHES:
        [run] = runs_of(simulator, batch)
        assert (run.state, run.mis_date) == (RunCode.SUCCESSFUL, MIS_DATE)
        assert simulator.journal.runs_created(batch) == 1
        runs[batch] = run.run_id
    assert simulator.journal.count("restart", "OFS_REG_CAPITAL_CALC") == 1, "max_restarts restarted the failed run"
    assert f"OFS runs of tonight's batches: {runs}" in result.output


@pytest.mark.airflow_e2e
def test_the_reporting_consumer_started_by_hand_takes_the_run_and_mis_date_from_its_params(
    example_airflow: AirflowCLI, ofs_simulator_factory: Callable[..., Simulator]
) -> None:
    """Scheduled on the group's asset, it also runs by hand; the scheduled path is in the real-scheduler tests."""
    simulator = ofs_simulator_factory(speed=SPEED)
    conf = {"batch_run_id": "EOD_RUN_1", "mis_date": MIS_DATE}

    result, dag_run = dags_test(example_airflow, simulator, "ofs_reporting_on_eod_group", conf=conf)

    assert dag_run.state == "success", result.output[-3000:]
    assert f"Reporting extract for MIS date {MIS_DATE}, from OFS run EOD_RUN_1" in result.output
