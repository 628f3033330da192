"""A real scheduler and triggerer: the triggerer is killed while the task is deferred, and the task still succeeds.

Not ``airflow dags test``: the scheduler, dag-processor, api-server and triggerer of Airflow 3 run as
separate processes on SQLite with the LocalExecutor (see ``airflow_cluster``). The DAG
``rel_triggerer_restart`` triggers a run whose second task is held, so the task stays deferred for as
long as the test needs; the test kills the triggerer (SIGKILL), starts a new one, sees the new one
poll the same run, releases the held task and waits for the Airflow task to succeed — in its first
try, with exactly one OFS run ever triggered.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from tests.reliability.airflow_cluster import AirflowCluster
from tests.reliability.catalogues import DAGS_CATALOGUE

DAG_ID = "rel_triggerer_restart"
TASK_ID = "held_until_released"
DAG_FILE = Path(__file__).parents[1] / "dags" / "rel_dags.py"

pytestmark = [
    pytest.mark.airflow_e2e,
    pytest.mark.timeout(420),
    pytest.mark.skipif(
        airflow_version() < (3, 0), reason="the process layout (api-server, dag-processor) is Airflow 3"
    ),
]


def task_state(cluster: AirflowCluster) -> tuple[str, int] | None:
    rows = cluster.query(
        "SELECT state, try_number FROM task_instance WHERE dag_id = ? AND task_id = ?", DAG_ID, TASK_ID
    )
    return rows[0] if rows else None


def test_deferred_task_survives_a_killed_triggerer_and_succeeds_without_a_second_run(
    airflow_cli: Any, ofs_simulator_factory: Any, tmp_path: Path
) -> None:
    simulator = ofs_simulator_factory(DAGS_CATALOGUE, speed=1)
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    shutil.copy(DAG_FILE, dags_folder)  # only this DAG file: parsing stays quick
    env = {CONN_ENV_VAR: simulator.connection_json(retry_wait=0.2)}

    # From the database as migrated: runs other tests left behind would hold executor slots and triggers.
    with AirflowCluster(tmp_path / "home", airflow_cli.pristine_db, dags_folder, env) as cluster:
        cluster.start("api-server")
        cluster.wait_for("the api-server to answer", cluster.api_answers, timeout=120)
        for name in ("dag-processor", "scheduler"):
            cluster.start(name)
        first_triggerer = cluster.start("triggerer")

        cluster.wait_for("the task to defer", lambda: (task_state(cluster) or ("",))[0] == "deferred", timeout=240)
        [trigger] = simulator.journal.entries("trigger")
        run_id = trigger.run_id
        assert run_id, "the operator triggered a run"
        cluster.wait_for(
            "the first triggerer to poll the run",
            lambda: any(e.run_id == run_id for e in simulator.journal.entries("status")),
            timeout=120,
        )

        cluster.kill(first_triggerer)
        killed_at = time.time()
        cluster.start("triggerer")

        def polled_by_new_triggerer() -> bool:
            return any(e.at > killed_at and e.run_id == run_id for e in simulator.journal.entries("status"))

        cluster.wait_for("the new triggerer to poll the same run", polled_by_new_triggerer, timeout=180)
        assert task_state(cluster) == ("deferred", 1), "the task waited in the triggerer the whole time"
        simulator.release_held(run_id)

        final = cluster.wait_for(
            "the task to finish",
            lambda: (state := task_state(cluster)) and state[0] in ("success", "failed", "up_for_retry") and state,
            timeout=180,
        )

        assert final == ("success", 1), cluster.report()
        assert simulator.journal.count("trigger") == 1
        assert simulator.journal.runs_created() == 1
        assert simulator.journal.count("restart") == simulator.journal.count("interrupt") == 0
        assert {e.run_id for e in simulator.journal.entries("status")} == {run_id}
