"""The README's handoff walkthrough ("Runs OFS starts itself"), run as written against a real Airflow 3.

The shell block under ``<!-- handoff-walkthrough -->`` is taken from the README itself and run with bash:
the simulator's admin endpoint plays OFS's own scheduler and starts ``OFS_GL_RECON``, the consumer DAG is
unpaused, and the run is announced through the REST API. The example DAG ``ofs_watch_announced_run`` must
then watch that run to success, triggering nothing. A second event without ``batchRunId`` fails its sensor
with a message naming the event.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from tests.reliability.airflow_cluster import AirflowCluster
from tests.reliability.test_assets_under_a_scheduler import api, post_asset_event, task_states

ROOT = Path(__file__).resolve().parents[2]
CONSUMER = "ofs_watch_announced_run"

pytestmark = [
    pytest.mark.ui,  # the user's path, with the browser test (make test-ui): a minute of a scheduler
    pytest.mark.airflow_e2e,
    pytest.mark.timeout(900),
    pytest.mark.skipif(airflow_version() < (3, 1), reason="the walkthrough is Airflow 3's REST API (3.0.0: see above)"),
    pytest.mark.skipif(shutil.which("curl") is None, reason="the README's walkthrough uses curl"),
]


def walkthrough() -> str:
    """The console block that follows the README's ``<!-- handoff-walkthrough -->`` marker."""
    readme = (ROOT / "README.md").read_text()
    [block] = re.findall(r"<!-- handoff-walkthrough -->\n```console\n(.*?)```", readme, re.DOTALL)
    return block


def test_the_readme_handoff_copied_as_written_ends_green(
    airflow_cli: Any, ofs_simulator_factory: Any, tmp_path: Path
) -> None:
    simulator = ofs_simulator_factory(speed=1.0)
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    shutil.copy(ROOT / "example_dags" / "ofs_chain_on_batch_assets.py", dags_folder)
    env = {CONN_ENV_VAR: simulator.connection_json()}

    with AirflowCluster(tmp_path / "home", airflow_cli.pristine_db, dags_folder, env) as cluster:
        cluster.start_airflow()
        cluster.wait_for(
            "the consumer to be parsed",
            lambda: cluster.query("SELECT dag_id FROM dag WHERE dag_id = ?", CONSUMER),
            timeout=240,
        )
        shell_env = {
            **cluster.env,
            "PATH": f"{Path(sys.executable).parent}:{cluster.env['PATH']}",  # `python` and `airflow` of this venv
            "AIRFLOW": f"http://127.0.0.1:{cluster.api_port}",
            "OFS_SIMULATOR": simulator.root_url,
            "AIRFLOW_USER": "admin",
            "AIRFLOW_PASSWORD": "any",  # the cluster's simple auth manager lets every caller in, on 127.0.0.1
        }
        ran = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", walkthrough()],
            env=shell_env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-3000:]

        states = cluster.wait_for("the consumer's run", lambda: task_states(cluster, CONSUMER), timeout=300)
        assert states == ["success"], cluster.report()
        [run] = simulator.runs.values()
        assert (run.name, run.state.name) == ("OFS_GL_RECON", "SUCCESSFUL")
        assert simulator.journal.count("trigger") == 0, "the consumer triggered a run"

        # An event that names no run: the sensor fails, naming the event's extra.
        [asset] = api(cluster, "/api/v2/assets?uri_pattern=/OFS_GL_RECON")["assets"]
        post_asset_event(cluster, asset["id"], {"batchName": "OFS_GL_RECON"})
        states = cluster.wait_for(
            "the second run", lambda: len(s := task_states(cluster, CONSUMER)) == 2 and s, timeout=300
        )
        assert sorted(states) == ["failed", "success"], cluster.report()
        logs = "".join(
            log.read_text(errors="replace") for log in (cluster.home / "logs").glob(f"dag_id={CONSUMER}/**/*.log")
        )
        assert "the asset event that triggered this DAG run has no 'batchRunId'" in logs
