"""OFS batches as Airflow assets (datasets on 2.11) under a real scheduler: one cluster for every case.

The DAGs are in ``asset_dags.py``. A batch that succeeds creates a DAG run of its consumer, whose triggering
event carries the simulator's run id and the MIS date; a batch that fails creates none; a mapped task over
three batches makes three events; two DAG runs for one MIS date with ``if_succeeded_for_mis_date="skip"``
make one OFS run. On 3.x a run started outside Airflow is announced with ``POST /api/v2/assets/events``:
the DAG scheduled on the batch watches that run, triggers nothing, and announces it no second time; and
posted events that claim a success OFS does not confirm never make ``skip`` skip.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_ofs._compat import IS_AIRFLOW_2, airflow_version
from airflow_provider_ofs.assets import batch_uri_of
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from tests.reliability.airflow_cluster import AirflowCluster

DAG_FILE = Path(__file__).with_name("asset_dags.py")
MIS_DATE = "2026-03-31"
QUICK = {"tasks": [{"code": "STEP", "seconds": 0.5, "outcome": "success"}]}
CATALOGUE = {
    "batches": {
        "AS_OK": {"tasks": [{"code": "STEP", "seconds": 6, "outcome": "success"}]},  # outlasts the deferral
        "AS_FAIL": {"tasks": [{"code": "BREAKS", "seconds": 0.5, "outcome": "fail"}]},
        "AS_M1": QUICK,
        "AS_M2": QUICK,
        "AS_M3": QUICK,
        "AS_SKIP": QUICK,
        "AS_HANDOFF": {"tasks": [{"code": "LONGER", "seconds": 8, "outcome": "success"}]},
        "AS_FORGED": QUICK,
    }
}
MONITOR_URL = "https://ofs.example.com/monitor?run={run_id}"
FINISHED = ("success", "failed", "skipped", "up_for_retry", "upstream_failed")

pytestmark = [
    pytest.mark.airflow_e2e,
    pytest.mark.compat,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        airflow_version() == (3, 0),
        reason="Airflow 3.0.0's api-server does not start beside the FastAPI that PyPI resolves for it today",
    ),
]


def events_of(cluster: AirflowCluster, uri: str) -> list[dict[str, Any]]:
    """The extras of the asset's (dataset's) events, oldest first."""
    event, asset, key = (
        ("dataset_event", "dataset", "dataset_id") if IS_AIRFLOW_2 else ("asset_event", "asset", "asset_id")
    )
    rows = cluster.query(
        f"SELECT e.extra FROM {event} e JOIN {asset} a ON a.id = e.{key} WHERE a.uri = ? ORDER BY e.id", uri
    )
    return [json.loads(extra) if isinstance(extra, str) else extra for (extra,) in rows]


def task_states(cluster: AirflowCluster, dag_id: str) -> list[str]:
    """The states of the DAG's task instances, of every DAG run, once each has finished (else empty)."""
    rows = cluster.query("SELECT state FROM task_instance WHERE dag_id = ? ORDER BY run_id, map_index", dag_id)
    states = [state for (state,) in rows]
    return states if states and all(state in FINISHED for state in states) else []


def dag_runs(cluster: AirflowCluster, dag_id: str) -> int:
    return len(cluster.query("SELECT run_id FROM dag_run WHERE dag_id = ?", dag_id))


def api(cluster: AirflowCluster, path: str) -> Any:
    """GET from the api-server."""
    return cluster.rest("GET", path)


def post_asset_event(cluster: AirflowCluster, asset_id: int, extra: dict[str, Any]) -> None:
    """Post an asset event through the REST API, as OFS's post-batch step would."""
    count = "SELECT count(*) FROM asset_event WHERE asset_id = ?"
    [(before,)] = cluster.query(count, asset_id)
    body = {"asset_id": asset_id, "extra": extra}
    cluster.rest("POST", "/api/v2/assets/events", body, applied=lambda: cluster.query(count, asset_id)[0][0] > before)


def test_succeeded_runs_are_asset_events_that_schedule_consumers_and_the_same_mis_date_runs_once(
    airflow_cli: Any, ofs_simulator_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator = ofs_simulator_factory(CATALOGUE, speed=1)
    connection = simulator.connection_json(retry_wait=0.2, monitor_url=MONITOR_URL)
    monkeypatch.setenv(CONN_ENV_VAR, connection)  # for the hook this test starts a run with
    from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

    hook = OFSSchedulerHook()
    uri = {batch: batch_uri_of(hook.settings, batch) for batch in CATALOGUE["batches"]}
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    shutil.copy(DAG_FILE, dags_folder)
    out = tmp_path / "consumed.jsonl"
    env = {CONN_ENV_VAR: connection, "OFS_ASSET_TEST_OUT": str(out)}

    with AirflowCluster(tmp_path / "home", airflow_cli.pristine_db, dags_folder, env) as cluster:
        cluster.start_airflow()

        # A producer whose batch succeeds: one consumer run, told the simulator's run id and the MIS date.
        cluster.wait_for("the consumer of AS_OK", lambda: out.exists() and out.read_text(), timeout=300)
        [ok_run] = [run.run_id for run in simulator.runs.values() if run.name == "AS_OK"]
        assert [json.loads(line) for line in out.read_text().splitlines()] == [
            {"batchRunId": ok_run, "misDate": MIS_DATE, "batchName": "AS_OK"}
        ]
        [extra] = events_of(cluster, uri["AS_OK"])
        assert extra == {
            "batchRunId": ok_run,
            "batchName": "AS_OK",
            "misDate": MIS_DATE,
            "state": "SUCCESSFUL",
            "monitorUrl": f"https://ofs.example.com/monitor?run={quote(ok_run, safe='')}",
        }

        # A mapped producer over three batches: three events, one per batch; no MIS date was sent, so each
        # event's is the one OFS gave the run (in its id).
        states = cluster.wait_for("the mapped producer", lambda: task_states(cluster, "as_mapped_producer"), 300)
        assert states == ["success"] * 3, cluster.report()
        for batch in ("AS_M1", "AS_M2", "AS_M3"):
            [view] = [run for run in simulator.runs.values() if run.name == batch]
            [extra] = events_of(cluster, uri[batch])
            assert (extra["batchRunId"], extra["batchName"], extra["misDate"]) == (view.run_id, batch, view.mis_date)

        # Two DAG runs for the same MIS date with "skip": the second is skipped, and OFS ran the batch once.
        states = cluster.wait_for(
            "both runs of as_skip", lambda: len(s := task_states(cluster, "as_skip")) == 2 and s, timeout=300
        )
        assert sorted(states) == ["skipped", "success"], cluster.report()
        assert simulator.journal.runs_created("AS_SKIP") == 1
        assert len(events_of(cluster, uri["AS_SKIP"])) == 1

        # A batch that always fails: the task fails, and no event, so no consumer run.
        states = cluster.wait_for("the failing producer", lambda: task_states(cluster, "as_failing_producer"), 300)
        assert states == ["failed"], cluster.report()
        assert events_of(cluster, uri["AS_FAIL"]) == []
        assert dag_runs(cluster, "as_fail_consumer") == 0

        if IS_AIRFLOW_2:  # the REST handoff below is Airflow 3's POST /api/v2/assets/events
            return
        # A run OFS started itself (here: the hook, outside any DAG), announced through the REST API.
        run_id = hook.trigger("AS_HANDOFF")
        [asset] = api(cluster, "/api/v2/assets?uri_pattern=" + quote("AS_HANDOFF"))["assets"]
        post_asset_event(cluster, asset["id"], {"batchRunId": run_id, "batchName": "AS_HANDOFF"})
        states = cluster.wait_for("the handoff consumer", lambda: task_states(cluster, "as_handoff_consumer"), 300)
        assert states == ["success"], cluster.report()
        assert simulator.runs[run_id].state.name == "SUCCESSFUL", "the sensor returned before the run ended"
        assert simulator.journal.runs_created("AS_HANDOFF") == 1, "the consumer triggered a run"
        assert len(events_of(cluster, uri["AS_HANDOFF"])) == 1, "the watched run was announced again"
        assert dag_runs(cluster, "as_handoff_consumer") == 1

        # Posted claims of a success for AS_FORGED's MIS date that OFS does not confirm: a run it does not know,
        # and another batch's run that succeeded. The task checks both with OFS, and triggers.
        [forged_asset] = api(cluster, "/api/v2/assets?uri_pattern=" + quote("AS_FORGED"))["assets"]
        for claimed in (f"AS_FORGED_{MIS_DATE}_1790000000000_1", ok_run):
            extra = {"batchRunId": claimed, "misDate": MIS_DATE, "state": "SUCCESSFUL", "monitorUrl": "https://x.test/"}
            post_asset_event(cluster, forged_asset["id"], extra)
        triggered = cluster.cli("dags", "trigger", "as_forged")
        assert triggered.returncode == 0, triggered.stdout[-2000:] + triggered.stderr[-2000:]
        states = cluster.wait_for("as_forged", lambda: task_states(cluster, "as_forged"), 300)
        assert states == ["success"], cluster.report()
        assert simulator.journal.runs_created("AS_FORGED") == 1, "the forged claims made the task skip"
        log_text = "\n".join(path.read_text() for path in (cluster.home / "logs" / "dag_id=as_forged").rglob("*.log"))
        assert "OFS does not know that run" in log_text
        assert "OFS names the runs of AS_FORGED for that MIS date" in log_text
