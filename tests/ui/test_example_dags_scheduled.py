"""Every example DAG on a real scheduler and triggerer (Airflow 3.x): on its schedule and from the CLI without a date.

The connection is stored in Airflow's database the way the 3.x form stores it (every empty extra ``null``),
so the triggerer reads it as a user's would. The scheduled DAGs start their latest scheduled run as soon
as they are parsed; the test also starts each with ``airflow dags trigger`` and no logical date, where
``{{ ds }}`` is undefined. Each DAG run must succeed and each OFS run must carry the date of its DAG run.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.connection_form import CONNECTION_FIELDS
from tests.reliability.airflow_cluster import AirflowCluster

EXAMPLE_DAGS = Path(__file__).parents[2] / "example_dags"
#: Every example DAG but the support desk's, which needs the id of a run to act on.
WITH_DEFAULTS = {
    "ofs_daily_data_load",
    "ofs_eod_group_to_reporting",
    "ofs_fire_then_watch",
    "ofs_mapped_batches",
    "ofs_reg_capital_auto_restart",
}
SCHEDULED = WITH_DEFAULTS - {"ofs_fire_then_watch"}  # schedule=None: only triggered
DONE = ("success", "failed")
OFS_RUNS = 15
#: Deferred tasks that must resume in each run of the test (two runs: at least 20 in all).
MIN_RESUMES = 10

pytestmark = [
    pytest.mark.ui,  # the user's front door, with the browser test (make test-ui): some minutes of a scheduler
    pytest.mark.airflow_e2e,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        airflow_version() < (3, 1),
        reason="runs without a logical date exist from Airflow 3.0; "
        "3.0.0's api-server does not start beside today's FastAPI (see test_under_a_scheduler)",
    ),
]


def form_stored(simulator: Any) -> str:
    """The simulator's connection as Airflow 3.x's form stores it: every extra, the untouched ones null."""
    conn = simulator.connection_dict()
    extra = dict.fromkeys(CONNECTION_FIELDS) | {name: conn["extra"][name] for name in conn["extra"]}
    extra |= {"timeout": None, "monitor_url": None}
    return json.dumps({**conn, "extra": json.dumps(extra)})


def dag_runs(cluster: AirflowCluster) -> list[tuple[str, str, str, Any, Any]]:
    return cluster.query("SELECT dag_id, run_type, state, logical_date, run_after FROM dag_run")


def failed_tries(cluster: AirflowCluster) -> str:
    """Every task try that did not succeed, with the errors its log and the scheduler's log give for it."""
    tries = cluster.query(
        "SELECT dag_id, run_id, task_id, map_index, try_number, state FROM task_instance_history "
        "WHERE state != 'success' UNION SELECT dag_id, run_id, task_id, map_index, try_number, state "
        "FROM task_instance WHERE state NOT IN ('success', 'skipped')"
    )
    lines = []
    for dag_id, run_id, task_id, map_index, try_number, state in tries:
        lines.append(f"----- {dag_id} {run_id} {task_id}[{map_index}] try {try_number}: {state}")
        folder = cluster.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        for log in sorted(folder.glob(f"**/attempt={try_number}.log*")):
            lines += [line[:600] for line in log.read_text(errors="replace").splitlines() if '"level":"error"' in line]
    scheduler = cluster.home / "scheduler-1.out"
    if scheduler.exists():
        lines += [line[:600] for line in scheduler.read_text(errors="replace").splitlines() if "reported that" in line]
    return "\n".join(lines)


def deferred_resumes(cluster: AirflowCluster) -> int:
    """How many deferred tasks resumed: each trigger that fired says so once in its task's log."""
    logs = (cluster.home / "logs").glob("dag_id=*/**/attempt=*.log*")
    return sum(log.read_text(errors="replace").count("Trigger fired event") for log in logs)


def run_date(logical_date: Any, run_after: Any) -> str:
    return str(logical_date or run_after)[:10]


@pytest.mark.parametrize(
    "poll_interval",
    [
        pytest.param(None, id="examples-default-poll"),  # a minute, as the examples ship
        pytest.param("1", id="readme-fast-poll"),  # OFS_EXAMPLE_POLL_INTERVAL=1, as the README's quick start
    ],
)
def test_every_example_dag_runs_on_its_schedule_and_when_triggered_without_a_date(
    airflow_cli: Any, ofs_simulator_factory: Any, tmp_path: Path, poll_interval: str | None
) -> None:
    # The simulator at its own default speed, as `ofs-esi-simulator` starts, and no retries: a deferred task that
    # resumed inside Airflow 3.3's stale-success window (apache/airflow#72716) would fail its try, so every try
    # must succeed. The provider's settle time (default) keeps each deferral past that window.
    simulator = ofs_simulator_factory(speed=1.0)
    dags_folder = tmp_path / "dags"
    shutil.copytree(EXAMPLE_DAGS, dags_folder)
    env = {"AIRFLOW__CORE__PARALLELISM": "4", "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "0"}
    if poll_interval is not None:
        env["OFS_EXAMPLE_POLL_INTERVAL"] = poll_interval

    with AirflowCluster(tmp_path / "home", airflow_cli.pristine_db, dags_folder, env) as cluster:
        added = cluster.cli("connections", "add", "ofs_scheduler_default", "--conn-json", form_stored(simulator))
        assert added.returncode == 0, added.stderr[-2000:]
        cluster.start_airflow()
        cluster.wait_for(
            "the example DAGs to be parsed",
            lambda: len(cluster.query("SELECT dag_id FROM dag WHERE is_stale = 0")) >= len(WITH_DEFAULTS),
            timeout=240,
        )
        for dag_id in sorted(WITH_DEFAULTS):
            triggered = cluster.cli("dags", "trigger", dag_id)
            assert triggered.returncode == 0, triggered.stdout[-2000:] + triggered.stderr[-2000:]

        expected = len(WITH_DEFAULTS) + len(SCHEDULED)
        runs = cluster.wait_for(
            "every DAG run to end",
            lambda: (rows := dag_runs(cluster)) and len(rows) >= expected and all(r[2] in DONE for r in rows) and rows,
            timeout=600,
        )

    resumes = deferred_resumes(cluster)
    by_kind = {(dag_id, run_type): (state, logical_date) for dag_id, run_type, state, logical_date, _ in runs}
    assert {dag_id for dag_id, run_type in by_kind if run_type == "scheduled"} == SCHEDULED
    assert {dag_id for dag_id, run_type in by_kind if run_type == "manual"} == WITH_DEFAULTS
    assert all(by_kind[(dag_id, "manual")][1] is None for dag_id in WITH_DEFAULTS), "triggered without a date"
    failed = [(dag_id, kind) for (dag_id, kind), (state, _) in by_kind.items() if state != "success"]
    assert not failed, f"{failed}\n{failed_tries(cluster)}\n{cluster.report()}"
    assert not failed_tries(cluster), "no try failed, so none was hidden by a retry"
    assert resumes >= MIN_RESUMES, f"only {resumes} deferred tasks resumed: the race was not exercised"
    run_dates = {run_date(logical_date, run_after) for _, _, _, logical_date, run_after in runs}
    mis_dates = {view.mis_date for view in simulator.runs.values() if view.parent is None and view.mis_date}
    assert mis_dates <= run_dates, f"MIS dates {mis_dates} are not the dates of the DAG runs {run_dates}"
    assert datetime.now(timezone.utc).strftime("%Y-%m-%d") in mis_dates  # a run without a logical date: its run_after
    # One OFS run per batch and DAG run: daily load 2 x 2, EOD group 2, fire-then-watch 1, mapped 3 x 2, capital 2.
    assert simulator.journal.runs_created() == OFS_RUNS, simulator.journal.entries("trigger")
