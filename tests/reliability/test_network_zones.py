"""OFS behind the bank's firewall: its watches and calls stay on the triggerer and worker of the ``ofs`` queue.

``Topology`` (PostgreSQL, Redis, CeleryExecutor) with ``[triggerer] queues_enabled`` and ``[ofs] queue = ofs``,
and two of each kind: a triggerer with ``--queues ofs`` and a Celery worker on ``-q ofs`` inside the zone,
and a triggerer with ``--queues default`` and a worker on ``-q default`` outside it. Outside the zone every
process reaches OFS only through a recording "firewall" proxy that refuses everything; inside it, OFS (the
simulator, named ``localhost``) is reached directly. The DAG is ``zone_batches`` (``zone_dags.py``). The test:

- checks that every OFS trigger carries the queue ``ofs`` and sits on the zone's triggerer;
- SIGKILLs the zone's triggerer while it holds the watches, and checks for longer than the triggerers' health
  threshold that the default triggerer never takes one; then starts a new zone triggerer;
- then: every task succeeds; the firewall saw no call (0 OFS calls from outside the zone); every OFS run
  was started once (the restarted batch: one run, one restart); the default queue's deferrable sensor and
  Python task ran outside the zone; the tokens each zone process asked IAM for.

It prints its figures and writes them to ``$OFS_TOPOLOGY_SUMMARY`` (after the main topology test's).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from tests.hook.forward_proxy import ForwardProxy
from tests.reliability.topology import Role, Topology, load_dag_file

DAG_FILE = Path(__file__).with_name("zone_dags.py")
ZONE_QUEUE = "ofs"
#: The zone's triggerer is killed once it holds this many watches.
WATCHES_ON_KILLED_TRIGGERER = 4
#: How long the zone stays without a triggerer: past ``TRIGGERER_HEALTH_CHECK_THRESHOLD`` (20 s in the topology).
DOWNTIME = 35.0
FINISHED = ("success", "failed", "upstream_failed", "skipped")

pytestmark = [
    pytest.mark.topology,
    pytest.mark.airflow_e2e,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(
        airflow_version() < (3, 3), reason="triggerer queues arrived in Airflow 3.2; the topology is 3.3+"
    ),
]


def test_ofs_watches_and_calls_stay_in_the_zone_and_resume_there_after_its_triggerer_dies(
    servers_present: None, ofs_simulator_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__OFS__QUEUE", ZONE_QUEUE)  # the DAG module below is read as the dag-processor reads it
    dags = load_dag_file(DAG_FILE)
    simulator = ofs_simulator_factory(dags.catalogue(), speed=1)
    # OFS by name: outside the zone NO_PROXY lets Airflow's own 127.0.0.1 traffic through, not this.
    connection = json.loads(simulator.connection_json(retry_wait=0.5).replace("127.0.0.1", "localhost"))
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    shutil.copy(DAG_FILE, dags_folder)
    firewall = ForwardProxy()
    firewall.credentials = "nobody:gets-through"  # every request and tunnel is refused (407), and logged
    outside = {name: firewall.url for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
    outside |= {"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    inside = {"NO_PROXY": "*", "no_proxy": "*"}
    env = {
        CONN_ENV_VAR: json.dumps(connection),
        "AIRFLOW__OFS__QUEUE": ZONE_QUEUE,
        "AIRFLOW__TRIGGERER__QUEUES_ENABLED": "True",
    }
    zone_triggerer = Role(("--queues", ZONE_QUEUE), inside)
    triggerers = [zone_triggerer, Role(("--queues", "default"), outside)]
    workers = [Role(("-q", ZONE_QUEUE), inside), Role(("-q", "default"), outside)]

    try:
        with Topology(
            tmp_path / "home", dags_folder, env, triggerers=triggerers, workers=workers, env_elsewhere=outside
        ) as topology:
            cluster = topology.cluster
            zone_job, default_job = topology.triggerer_job_ids
            cluster.wait_for(
                "the DAG to be parsed", lambda: cluster.query("SELECT 1 FROM dag WHERE dag_id = %s", dags.DAG_ID), 240
            )
            unpaused = cluster.cli("dags", "unpause", dags.DAG_ID)
            assert unpaused.returncode == 0, unpaused.stdout[-2000:] + unpaused.stderr[-2000:]
            started = time.time()

            def ofs_triggers() -> list[tuple[Any, ...]]:
                return cluster.query(
                    "SELECT t.queue, t.triggerer_id, ti.task_id FROM trigger t JOIN task_instance ti "
                    "ON ti.trigger_id = t.id WHERE ti.dag_id = %s AND ti.task_id <> 'pause'",
                    dags.DAG_ID,
                )

            seen: list[tuple[Any, ...]] = []

            def zone_holds_enough() -> list[tuple[Any, ...]] | None:
                rows = ofs_triggers()
                seen.extend(rows)
                held = [row for row in rows if row[1] == zone_job]
                return rows if len(held) >= WATCHES_ON_KILLED_TRIGGERER else None

            held = cluster.wait_for(
                f"the zone's triggerer to hold {WATCHES_ON_KILLED_TRIGGERER} watches", zone_holds_enough, timeout=420
            )
            cluster.kill(topology.triggerers[0])
            killed_at = time.time()
            taken_outside: list[tuple[Any, ...]] = []
            while time.time() - killed_at < DOWNTIME:
                rows = ofs_triggers()
                seen.extend(rows)
                taken_outside += [row for row in rows if row[1] == default_job]
                time.sleep(1)
            polls_while_down = [e for e in simulator.journal.entries("status") if e.at > killed_at]
            tokens_before_restart = simulator.journal.token_requests()
            topology.add_triggerer(zone_triggerer)
            restarted_at = time.time()

            def all_finished() -> list[tuple[Any, ...]] | None:
                rows = cluster.query(
                    "SELECT task_id, map_index, state, queue, try_number FROM task_instance WHERE dag_id = %s",
                    dags.DAG_ID,
                )
                return rows if rows and all(row[2] in FINISHED for row in rows) else None

            rows = cluster.wait_for("every task to end", all_finished, timeout=600)
            finished = time.time()
            report = cluster.report()
    finally:
        firewall.stop()

    states = {(task_id, map_index): state for task_id, map_index, state, *_ in rows}
    assert set(states.values()) == {"success"}, report
    # -- 0 OFS calls from outside the zone: the firewall saw none
    assert firewall.log == [], f"OFS was called from outside the zone: {firewall.log}"
    # -- every OFS task on the zone's queue, the rest on the default one; every OFS trigger on the zone's
    queues = {task_id: queue for task_id, _, _, queue, _ in rows}
    assert queues == {
        "load": ZONE_QUEUE,
        "restarted": ZONE_QUEUE,
        "fire": ZONE_QUEUE,
        "watch": ZONE_QUEUE,
        "pause": "default",
        "summary": "default",
    }, queues
    assert {queue for queue, *_ in seen} == {ZONE_QUEUE}, "an OFS trigger without the zone's queue"
    assert {task_id for *_, task_id in seen} >= {"load", "restarted", "watch"}
    assert taken_outside == [], f"the default triggerer took OFS watches: {taken_outside}"
    # -- each OFS run started once; the run that failed once was restarted once, not triggered again
    for batch in [*dags.LOADED, dags.RESTARTED, dags.WATCHED]:
        assert simulator.journal.runs_created(batch) == 1, f"{batch}: {simulator.journal.runs_created(batch)} runs"
    assert simulator.journal.count("restart") == 1
    # -- tokens: the zone's processes only, one each (task tries, the first zone triggerer, its successor)
    tries = sum(try_number for task_id, _, _, queue, try_number in rows if queue == ZONE_QUEUE)
    token_requests = simulator.journal.token_requests()
    assert token_requests <= tries + 2, (token_requests, tries)

    lines = [
        f"network zone: triggerers --queues {ZONE_QUEUE} and --queues default, Celery workers -q {ZONE_QUEUE} and "
        f"-q default; {len(rows)} task instances, {len(simulator.runs)} OFS runs, "
        f"{finished - started:.0f} s from unpause to the last task's end",
        f"outside the zone: {len(firewall.log)} OFS calls (firewall log); OFS triggers seen on the default "
        f"triggerer: {len(taken_outside)}",
        f"the zone's triggerer killed holding {len([r for r in held if r[1] == zone_job])} watches; {DOWNTIME:.0f} s "
        f"without it: {len(polls_while_down)} status calls (task tries on the zone's worker); its successor "
        f"resumed every watch ({finished - restarted_at:.0f} s to the last task's end); duplicate runs: "
        f"{sum(simulator.journal.runs_created(b) - 1 for b in [*dags.LOADED, dags.RESTARTED, dags.WATCHED])}",
        f"token requests: {token_requests} ({tokens_before_restart} before the new zone triggerer) for "
        f"{tries} task tries in the zone + 2 zone triggerers",
    ]
    summary = "\n".join(lines)
    print("\n" + summary)
    if out := os.environ.get("OFS_TOPOLOGY_SUMMARY"):
        with Path(out).open("a") as written:
            written.write(summary + "\n")
