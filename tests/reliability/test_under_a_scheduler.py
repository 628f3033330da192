"""Deferred timeouts and clears under a real scheduler and triggerer, on Airflow 2.11 as on 3.x.

Not ``airflow dags test``: the components of ``airflow_cluster`` run as processes on SQLite. While a
task is deferred, its ``execution_timeout`` (or the operator's ``timeout``) passes: the OFS run must end
interrupted, by the trigger at its own deadline, whatever path the framework takes on resume (Airflow
2.11 fails the resumed task before its completion method runs). A task that succeeded and is then
cleared by a person must trigger its batch anew, not find the old run in the task-state store; on 3.3+, a
task retried after its DAG file lowered ``retries`` must not (``cl_retries_lowered``). On 3.x
the api-server serves that task's **OFS Batch Monitor** link, read back through Airflow's link API.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_ofs._compat import HAS_TASK_STATE_STORE, airflow_version
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from tests.reliability.airflow_cluster import AirflowCluster

DAG_FILE = Path(__file__).parents[1] / "dags" / "cluster_dags.py"
LONG = {"tasks": [{"code": "LONG", "seconds": 3600, "outcome": "success"}]}
CATALOGUE = {
    "batches": {
        "CL_LONG_A": LONG,
        "CL_LONG_B": LONG,
        "CL_QUICK": {"tasks": [{"code": "STEP", "seconds": 0.5, "outcome": "success"}]},
        "CL_RETRIED": {"tasks": [{"code": "STEP", "seconds": 0.5, "outcome": "success"}]},
    }
}
FINISHED = ("success", "failed", "up_for_retry", "upstream_failed")
MONITOR_URL = "https://ofs.example.com/monitor?run={run_id}&batch={batch_name}"

pytestmark = [
    pytest.mark.airflow_e2e,
    pytest.mark.compat,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        airflow_version() == (3, 0),
        reason="Airflow 3.0.0's api-server does not start beside the FastAPI that PyPI resolves for it today "
        "(AirflowRouter.api_route() got an unexpected keyword argument 'max_body_size'); 2.11 and 3.3 run it",
    ),
]


def task_state(cluster: AirflowCluster, dag_id: str, task_id: str) -> tuple[str, int] | None:
    rows = cluster.query(
        "SELECT state, try_number FROM task_instance WHERE dag_id = ? AND task_id = ?", dag_id, task_id
    )
    return rows[0] if rows and rows[0][0] else None


def finished(cluster: AirflowCluster, dag_id: str, task_id: str) -> tuple[str, int] | None:
    state = task_state(cluster, dag_id, task_id)
    return state if state and state[0] in FINISHED else None


def extra_links(cluster: AirflowCluster, dag_id: str, task_id: str) -> dict[str, str]:
    """The task's extra links as the api-server serves them to the UI (``.../taskInstances/<task>/links``)."""
    [(run_id,)] = cluster.query("SELECT run_id FROM dag_run WHERE dag_id = ?", dag_id)
    url = (
        f"http://127.0.0.1:{cluster.api_port}/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"
        f"/taskInstances/{task_id}/links"
    )
    with urllib.request.urlopen(url, timeout=30) as answer:
        links: dict[str, str] = json.load(answer)["extra_links"]
    return links


def logs_of(home: Path) -> str:
    """Every component's output and every task log under the Airflow home."""
    files = [
        path
        for path in home.rglob("*")
        if path.is_file() and (path.suffix == ".out" or "logs" in path.relative_to(home).parts)
    ]
    return "\n".join(path.read_text(errors="replace") for path in files)


def test_a_deferred_wait_past_its_timeout_interrupts_the_run_and_a_clear_triggers_anew(
    airflow_cli: Any, ofs_simulator_factory: Any, tmp_path: Path
) -> None:
    simulator = ofs_simulator_factory(CATALOGUE, speed=1)
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    shutil.copy(DAG_FILE, dags_folder)
    env = {
        CONN_ENV_VAR: simulator.connection_json(retry_wait=0.2, monitor_url=MONITOR_URL),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",  # the link API without a login (127.0.0.1 only)
    }

    with AirflowCluster(tmp_path / "home", airflow_cli.pristine_db, dags_folder, env) as cluster:
        cluster.start_airflow()

        first = cluster.wait_for("the quick batch's task", lambda: finished(cluster, "cl_clear", "load"), timeout=240)
        assert first == ("success", 1), cluster.report()
        if airflow_version() >= (3, 0):
            [run] = [view for view in simulator.runs.values() if view.name == "CL_QUICK"]
            expected = f"https://ofs.example.com/monitor?run={run.run_id}&batch=CL_QUICK"
            assert extra_links(cluster, "cl_clear", "load") == {"OFS Batch Monitor": expected}
        cleared = cluster.cli("tasks", "clear", "cl_clear", "--yes")  # its one task
        assert cleared.returncode == 0, cleared.stdout[-2000:] + cleared.stderr[-2000:]
        again = cluster.wait_for(
            "the cleared task to run again",
            lambda: (state := finished(cluster, "cl_clear", "load")) and state[1] > 1 and state,
            timeout=240,
        )
        assert again[0] == "success", cluster.report()
        assert simulator.journal.runs_created("CL_QUICK") == 2, "a clear triggers the batch anew"

        if HAS_TASK_STATE_STORE:
            retried = cluster.wait_for(
                "cl_retries_lowered's retry", lambda: finished(cluster, "cl_retries_lowered", "load"), timeout=240
            )
            [(max_tries,)] = cluster.query("SELECT max_tries FROM task_instance WHERE dag_id = 'cl_retries_lowered'")
            assert (dags_folder / "cl_retries_lowered.txt").read_text() == "1", "try 1 lowered retries"
            assert (retried, max_tries) == (("success", 2), 3), cluster.report()
            assert simulator.journal.runs_created("CL_RETRIED") == 1, "the retry started no second run"

        for task_id, batch in (("deadline_by_timeout", "CL_LONG_B"), ("deadline_by_execution_timeout", "CL_LONG_A")):
            state = cluster.wait_for(
                f"{task_id} to end", lambda t=task_id: finished(cluster, "cl_deferred_timeout", t), timeout=300
            )
            [run] = [view for view in simulator.runs.values() if view.name == batch]
            assert state == ("failed", 1), f"{task_id}: {state}\n{cluster.report()}"
            assert run.state.name == "INTERRUPTED", f"{task_id}: the run was left {run.state.name}"
            assert simulator.journal.runs_created(batch) == 1
        log_text = logs_of(cluster.home)
        for run in simulator.runs.values():
            if run.name.startswith("CL_LONG"):
                assert f"OFS run {run.run_id} did not finish" in log_text, f"no log line names {run.run_id}"
