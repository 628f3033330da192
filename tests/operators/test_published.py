"""In a real Airflow: the XComs a task pushes about its run, the OFS Batch Monitor link, metrics and lineage.

``airflow dags test`` of tests/dags/published_dags.py against the simulator, once with a connection
that has a ``monitor_url`` and once without. The XComs are read from Airflow's database; the link
through Airflow itself: on 3.x the task stores each extra link's URL as an XCom when it ends (what the
API server serves), on 2.11 the webserver asks the operator, as ``get_extra_links`` does here. Metrics
arrive at a StatsD listener, OpenLineage events in the file of the OpenLineage provider's file transport.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.lineage import SCHEMA_URL
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from tests.airflow_cli import latest_run_rows
from tests.operators.facet_schema import assert_valid_facet

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.compat]

DAG_ID = "published"
MONITOR_URL = "{host}/monitor/{batch_name}/runs/{run_id}"
CATALOGUE = {
    "batches": {
        "PUB_A": {"tasks": [{"code": "A1", "seconds": 1, "outcome": "success"}]},
        "PUB_B": {"tasks": [{"code": "B1", "seconds": 1, "outcome": "success"}]},
        "PUB_FAILS": {
            "tasks": [{"code": "OK_STEP", "seconds": 1, "outcome": "success"}, {"code": "BAD_STEP", "outcome": "fail"}]
        },
    },
    "groups": {"PUB_GROUP": {"batches": ["PUB_A", "PUB_B"]}},
}
LINK = "OFS Batch Monitor"
TASK_BATCHES = {
    "group": "PUB_GROUP",
    "failing": "PUB_FAILS",
    "sense_group": "PUB_GROUP",
    "rerun_group": "PUB_GROUP",
    "restart_failing": "PUB_FAILS",
}
#: Airflow 3.0.0's ``dags test`` does not store the extra links' URLs (its scheduler-run tasks do).
LINKS_READABLE = airflow_version() != (3, 0)
#: Airflow 3.0.0's ``dags test`` hands listeners the database's task instance, which the OpenLineage provider
#: takes for a state set by hand: its events then carry no operator facets (tasks run by a worker do).
LINEAGE_READABLE = airflow_version() != (3, 0)


def xcoms(home: Path) -> dict[tuple[str, str], Any]:
    """(task id, key) -> value of the latest run's XComs."""
    rows = latest_run_rows(home, DAG_ID, "task_id, key, value", table="xcom")
    return {(task_id, key): stored_value(value) for task_id, key, value in rows}


def stored_value(raw: str | bytes) -> Any:
    """An XCom value as the database holds it: JSON, and JSON of that JSON on Airflow 3.0.0."""
    value = json.loads(raw)
    if airflow_version() == (3, 0) and isinstance(value, str):
        value = json.loads(value)
    return value


def extra_link(home: Path, env: dict[str, str], task_id: str) -> str:
    """The link URL as Airflow serves it for the latest run's task."""
    if airflow_version() >= (3, 0):
        return xcoms(home).get((task_id, "_link_OFSBatchMonitorLink"), "")
    probe = (
        "from airflow.models import DagBag, DagRun\n"
        f"dag = DagBag(include_examples=False).get_dag({DAG_ID!r})\n"
        f"run = sorted(DagRun.find(dag_id={DAG_ID!r}), key=lambda r: r.id)[-1]\n"
        f"ti = run.get_task_instance({task_id!r})\n"
        f"print(repr(dag.get_task({task_id!r}).get_extra_links(ti, {LINK!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    return str(eval(done.stdout.strip().splitlines()[-1]) or "")


class StatsdListener:
    """A StatsD server on 127.0.0.1 (UDP) that keeps every metric line Airflow's ``Stats`` sends it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self._lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        port = self.sock.getsockname()[1]
        self.airflow_env = {
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(port),
            "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        }

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                packet = self.sock.recv(65536)
            except OSError:
                continue
            self._lines.extend(packet.decode(errors="replace").splitlines())

    def lines(self) -> list[str]:
        return list(self._lines)

    def __enter__(self) -> StatsdListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def metric_names(lines: list[str]) -> set[str]:
    """``airflow.ofs.esi.trigger.success`` from ``airflow.ofs.esi.trigger.success:1|c``."""
    return {line.split(":", 1)[0] for line in lines}


def openlineage_env(events_file: Path) -> dict[str, str]:
    """Turn the OpenLineage provider on, with its file transport writing one event per line."""
    return {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "ofs-tests",
    }


def final_facets(events_file: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """task id -> (COMPLETE or FAIL, its ``ofs_batchRun`` facet) from the events the file transport wrote."""
    found = {}
    for line in events_file.read_text().splitlines():
        event = json.loads(line)
        dag_id, _, task_id = event["job"]["name"].partition(".")
        if dag_id == DAG_ID and task_id and event["eventType"] in ("COMPLETE", "FAIL"):
            found[task_id] = (event["eventType"], event["run"]["facets"].get("ofs_batchRun"))
    return found


@pytest.fixture(scope="module", params=["with_monitor_url", "without_monitor_url"])
def published(request, airflow_cli, tmp_path_factory):
    from airflow_provider_ofs.simulator.simulator import Simulator

    events_file = tmp_path_factory.mktemp("lineage") / "events.jsonl"
    with Simulator(CATALOGUE, speed=20) as simulator, StatsdListener() as statsd:
        extras = {"monitor_url": MONITOR_URL if request.param == "with_monitor_url" else ""}
        env = {
            CONN_ENV_VAR: simulator.connection_json(retry_wait=0.05, **extras),
            **statsd.airflow_env,
            **openlineage_env(events_file),
        }
        if airflow_version() == (3, 0):  # its dags test reads the DAG from the database only
            assert airflow_cli.run("dags", "reserialize").returncode == 0
        run = airflow_cli.dags_test(DAG_ID, env=env)
        values = xcoms(airflow_cli.home)
        assert ("group", "batch_run_id") in values, run.output[-4000:]
        simulator.airflow_output = run.output
        simulator.statsd_lines = statsd.lines()
        simulator.lineage = final_facets(events_file)
        yield request.param, simulator, values, {**airflow_cli.env, **env}, airflow_cli.home


def test_the_final_state_of_each_watched_run_is_pushed_for_branching(published):
    _, simulator, values, _, _ = published
    group_run = values[("group", "batch_run_id")]
    children = {view.run_id for view in simulator.runs.values() if view.parent == group_run}

    assert values[("group", "batch_run_state")] == "SUCCESSFUL"
    assert values[("group", "batch_failed_tasks")] == []
    assert {child["run_id"] for child in values[("group", "batch_child_runs")]} == children
    assert len(children) == 2
    assert {child["state"] for child in values[("group", "batch_child_runs")]} == {"SUCCESSFUL"}
    assert values[("failing", "batch_run_state")] == "FAILED"
    assert values[("failing", "batch_failed_tasks")] == ["BAD_STEP"]
    assert values[("failing", "batch_child_runs")] == []
    assert values[("sense_group", "batch_run_id")] == group_run
    assert values[("sense_group", "batch_run_state")] == "SUCCESSFUL"


def test_the_batch_monitor_link_leads_to_the_run_only_when_the_connection_has_a_monitor_url(published):
    variant, simulator, values, env, home = published
    base_url = simulator.base_url.rstrip("/")

    for task_id, batch in TASK_BATCHES.items():
        run_id = values[(task_id, "batch_run_id")]
        expected = f"{base_url}/monitor/{batch}/runs/{run_id}" if variant == "with_monitor_url" else None
        assert values.get((task_id, "batch_run_url")) == expected
        if LINKS_READABLE:
            assert extra_link(home, env, task_id) == (expected or ""), "no monitor_url: no broken link"


def test_a_connection_without_monitor_url_logs_no_missing_xcom_error(published):
    """Airflow 3 reads each task's extra link when it ends: the URL's XCom must exist, null without a template."""
    _, simulator, _, _, _ = published

    assert "XCom not found" not in simulator.airflow_output


def test_esi_calls_token_requests_and_run_ends_are_counted_under_the_ofs_prefix(published):
    _, simulator, _, _, _ = published
    names = metric_names(simulator.statsd_lines)

    for expected in (
        "airflow.ofs.esi.trigger.success",
        "airflow.ofs.esi.trigger.duration",
        "airflow.ofs.esi.status.success",
        "airflow.ofs.token.success",
        "airflow.ofs.run.PUB_GROUP.successful",
        "airflow.ofs.run.PUB_GROUP.duration",
        "airflow.ofs.run.PUB_FAILS.failed",
    ):
        assert expected in names, sorted(name for name in names if ".ofs." in name)
    assert {name for name in names if ".ofs." in name} <= {
        *(
            f"airflow.ofs.esi.{verb}.{what}"
            for verb in ("trigger", "status", "rerun", "restart")
            for what in ("success", "duration")
        ),
        *(f"airflow.ofs.token.{what}" for what in ("success", "duration")),
        *(
            f"airflow.ofs.run.{batch}.{what}"
            for batch in ("PUB_GROUP", "PUB_FAILS")
            for what in ("successful", "failed", "duration")
        ),
    }, "no failure, no retry: nothing else"


@pytest.mark.skipif(not LINEAGE_READABLE, reason="3.0.0's dags test gives OpenLineage no operator to ask")
def test_each_task_reports_its_run_to_openlineage_when_it_succeeds_or_fails(published):
    variant, simulator, values, _, _ = published
    base_url = simulator.base_url.rstrip("/")
    group_run, failed_run = values[("group", "batch_run_id")], values[("failing", "batch_run_id")]
    rerun = values[("rerun_group", "batch_run_id")]

    def children(parent: str) -> list[dict[str, str]]:
        return [
            {"batchRunId": view.run_id, "state": "SUCCESSFUL"}
            for view in sorted(simulator.runs.values(), key=lambda view: view.run_id)
            if view.parent == parent
        ]

    expected = {
        "group": (
            "COMPLETE",
            {"action": "trigger", "batchType": "group", "state": "SUCCESSFUL", "childRuns": children(group_run)},
        ),
        "failing": (
            "FAIL",
            {
                "action": "trigger",
                "batchType": "batch",
                "misDate": simulator.runs[failed_run].mis_date,
                "state": "FAILED",
                "failedTasks": ["BAD_STEP"],
            },
        ),
        "sense_group": ("COMPLETE", {"action": "watch", "state": "SUCCESSFUL", "childRuns": children(group_run)}),
        "rerun_group": (
            "COMPLETE",
            {"action": "rerun", "sourceBatchRunId": group_run, "state": "SUCCESSFUL", "childRuns": children(rerun)},
        ),
        "restart_failing": (
            "FAIL",
            {"action": "restart", "sourceBatchRunId": failed_run, "state": "FAILED", "failedTasks": ["BAD_STEP"]},
        ),
    }

    assert set(simulator.lineage) == set(expected)
    for task_id, (event_type, fields) in expected.items():
        run_id, batch = values[(task_id, "batch_run_id")], TASK_BATCHES[task_id]
        url = {"monitorUrl": f"{base_url}/monitor/{batch}/runs/{run_id}"} if variant == "with_monitor_url" else {}
        reported_type, facet = simulator.lineage[task_id]
        reported = {name: value for name, value in facet.items() if not name.startswith("_")}
        reported["childRuns"] = sorted(reported["childRuns"], key=lambda child: child["batchRunId"])
        assert reported_type == event_type, task_id
        assert reported == {
            "batchRunId": run_id,
            "batchName": batch,
            "failedTasks": [],
            "childRuns": [],
            **fields,
            **url,
        }, task_id


@pytest.mark.skipif(not LINEAGE_READABLE, reason="3.0.0's dags test gives OpenLineage no operator to ask")
def test_every_reported_facet_matches_the_schema_its_url_names(published):
    _, simulator, _, _, _ = published

    for _, facet in simulator.lineage.values():
        assert facet["_schemaURL"] == SCHEMA_URL
        assert_valid_facet(facet)
