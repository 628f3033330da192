"""Airflow's distributed engine: PostgreSQL, Redis, two Celery workers and two triggerers, against the simulator.

``Topology`` (tests/reliability/topology.py) starts every server and Airflow process on 127.0.0.1. The
DAG ``topo_mapped_batches`` (tests/dags/topology_dags.py) maps a deferrable trigger operator over 42
batches and runs a batch group and a sensor beside it. While runs are deferred, the test SIGKILLs the
triggerer that holds the most triggers, then a Celery worker that is resuming a mapped task whose OFS run
ended (should that task have left the worker just before the kill, a new worker replaces the dead one
and the next such task is the target, at most three kills). Then:

- every task ends as the catalogue says (40 batches and the group and the sensor succeed, 2 batches fail);
- every OFS run was triggered exactly once (the simulator's journal), killed worker or not;
- the triggers of the killed triggerer were polled by the survivor, and those tasks succeeded;
- no task ended more than ``MAX_WAIT_AFTER_RUN_END`` seconds after its OFS run ended;
- at most one token request per process that talks to OFS (each task try, each triggerer);
- no password, client secret or issued token in any process log or task log.

It prints the measured figures that docs/production.md quotes (how long a task takes to notice its run
ended; the triggerers' CPU and memory per watched run). ``make test-topology`` runs it.
"""

from __future__ import annotations

import base64
import os
import shutil
import statistics
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil
import pytest

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.simulator import RunView
from airflow_provider_ofs.simulator.credentials import SimulatorCredentials
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from tests.reliability.test_secrets import record_issued_tokens
from tests.reliability.topology import Topology, UsageSampler, load_dag_file

DAG_FILE = Path(__file__).parents[1] / "dags" / "topology_dags.py"
#: The issue's bound: no task waits longer than this after its OFS run ended (two shared cores).
MAX_WAIT_AFTER_RUN_END = 120.0
#: The triggerer killed is the first to hold this many triggers.
TRIGGERS_ON_KILLED_TRIGGERER = 8
#: Seconds since a task process started within which it is still starting (imports take longer on 2 cores).
YOUNG_TASK_PROCESS = 2.0
#: How many workers the test may kill to catch a task mid-try (a new worker replaces each that caught none).
WORKER_KILLS_AT_MOST = 3
FINISHED = ("success", "failed")
CREDENTIALS = SimulatorCredentials(
    client_id="topo-client-91fe",
    client_secret="topo-client-secret-Wp37sK",
    username="topo_batch_user",
    password="topo-password-Hd58rQ",
)

pytestmark = [
    pytest.mark.topology,
    pytest.mark.airflow_e2e,
    pytest.mark.timeout(1500),
    pytest.mark.skipif(airflow_version() < (3, 3), reason="the durable task-state store and this layout are 3.3+"),
]


def task_label(task_id: str, map_index: int) -> str:
    return f"{task_id}[{map_index}]" if map_index >= 0 else task_id


def run_end(view: RunView, views: Iterable[RunView]) -> float | None:
    """When a run ended in the simulator; a group run, when its last child run ended."""
    if view.kind != "group":
        return view.finished_at
    children = [child.finished_at for child in views if child.parent == view.run_id]
    return max(children) if children and None not in children else None  # type: ignore[type-var]


def process_age(process: psutil.Process) -> float:
    """Seconds since ``process`` started (infinite when it is gone)."""
    try:
        return time.time() - process.create_time()
    except psutil.NoSuchProcess:
        return float("inf")


def scan_for_secrets(paths: list[Path], secrets: dict[str, str]) -> list[str]:
    found = []
    for path in paths:
        data = path.read_bytes()
        found += [f"{name} in {path}" for name, secret in secrets.items() if secret.encode() in data]
    return found


def test_mapped_batches_survive_a_killed_triggerer_and_worker_with_one_ofs_run_each(
    servers_present: None, ofs_simulator_factory: Any, tmp_path: Path
) -> None:
    dags = load_dag_file(DAG_FILE)
    simulator = ofs_simulator_factory(dags.catalogue(), speed=1, credentials=CREDENTIALS)
    issued = record_issued_tokens(simulator)
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    shutil.copy(DAG_FILE, dags_folder)
    env = {CONN_ENV_VAR: simulator.connection_json(retry_wait=0.5)}
    expected = {task_label("run_batch", i): "success" for i in range(len(dags.SUCCEEDING_BATCHES))}
    expected |= {task_label("run_batch", len(dags.SUCCEEDING_BATCHES) + i): "failed" for i in range(2)}
    expected |= {"run_group": "success", "fire_watched": "success", "watch_watched": "success"}
    home = tmp_path / "home"

    with Topology(home, dags_folder, env, triggerers=2, workers=2) as topology:
        cluster = topology.cluster

        def task_rows() -> list[tuple[Any, ...]]:
            return cluster.query(
                "SELECT task_id, map_index, state, try_number, end_date, pid FROM task_instance WHERE dag_id = %s",
                dags.DAG_ID,
            )

        cluster.wait_for(
            "the DAG to be parsed", lambda: cluster.query("SELECT 1 FROM dag WHERE dag_id = %s", dags.DAG_ID), 240
        )
        names = [f"triggerer-{n}" for n in (1, 2)]
        jobs = dict(zip(topology.triggerer_job_ids, names, strict=True))

        def triggers_held() -> dict[str, int]:
            rows = cluster.query("SELECT triggerer_id, count(*) FROM trigger GROUP BY triggerer_id")
            return {jobs[job]: count for job, count in rows if job in jobs}

        components = dict(zip(names, topology.triggerers, strict=True))
        sampler = UsageSampler(components, counter=triggers_held).start()
        time.sleep(10)  # the triggerers' idle cost, subtracted below
        idle = {name: usage.samples[-1][:2] for name, usage in sampler.usage.items()}
        idle_start = {name: usage.samples[0][:2] for name, usage in sampler.usage.items()}
        unpaused = cluster.cli("dags", "unpause", dags.DAG_ID)
        assert unpaused.returncode == 0, unpaused.stdout[-2000:] + unpaused.stderr[-2000:]
        started = time.time()

        # 1. SIGKILL the triggerer that holds the most triggers, once it holds a few.
        def triggerer_to_kill() -> int | None:
            rows = cluster.query(
                "SELECT triggerer_id, count(*) FROM trigger WHERE triggerer_id IS NOT NULL GROUP BY triggerer_id"
            )
            held = {job: count for job, count in rows if job in topology.triggerer_job_ids}
            busiest = max(held, key=lambda job: held[job], default=None)
            return busiest if busiest is not None and held[busiest] >= TRIGGERS_ON_KILLED_TRIGGERER else None

        victim_job = cluster.wait_for(
            f"a triggerer to hold {TRIGGERS_ON_KILLED_TRIGGERER} triggers", triggerer_to_kill, timeout=420
        )
        victim_triggerer = topology.triggerers[topology.triggerer_job_ids.index(victim_job)]
        on_killed_triggerer = cluster.query(
            "SELECT ti.task_id, ti.map_index FROM task_instance ti JOIN trigger t ON ti.trigger_id = t.id "
            "WHERE ti.dag_id = %s AND t.triggerer_id = %s",
            dags.DAG_ID,
            victim_job,
        )
        cluster.kill(victim_triggerer)
        triggerer_killed_at = time.time()

        # 2. SIGKILL a Celery worker while it runs a mapped task whose OFS run has ended, in a task process
        #    started a moment ago: the task is resuming after its deferred wait. Its retry must reconnect to
        #    that run through the task-state store, not trigger anew. (Not the first try's instant between
        #    OFS's answer to the trigger call and the store's write: see docs/production.md, "Known limit".)
        def run_ended(batch: str) -> bool:
            return any(v.name == batch and v.finished_at for v in simulator.runs.values())

        def worker_to_kill() -> tuple[int, list[str]] | None:
            running = {
                pid: task_label(t, m)
                for t, m, state, _, _, pid in task_rows()
                if state == "running" and pid and t == "run_batch" and run_ended(dags.MAPPED_BATCHES[m])
            }
            for number, worker in enumerate(topology.workers):
                young = {p.pid for p in worker.tree() if process_age(p) < YOUNG_TASK_PROCESS}
                if hit := [label for pid, label in running.items() if pid in young]:
                    return number, hit
            return None

        # A task can finish its few seconds on the worker between the look and the kill; then a new worker
        # replaces the dead one (as a supervisor would restart it) and the next such task is the target.
        interrupted: list[str] = []
        worker_kills: list[str] = []
        while not interrupted and len(worker_kills) < WORKER_KILLS_AT_MOST:
            worker_number, on_killed_worker = cluster.wait_for(
                "a worker to resume a task whose OFS run ended", worker_to_kill, timeout=420
            )
            victim_worker = topology.workers[worker_number]
            cluster.kill(victim_worker)
            worker_kills.append(victim_worker.log_path.stem)
            time.sleep(2)  # a state update the task sent just before the kill lands now; none can come after
            # Tasks the kill caught mid-try: still "running" with their process gone; the scheduler fails the try.
            interrupted = [task_label(t, m) for t, m, state, *_ in task_rows() if state == "running"]
            interrupted = [label for label in interrupted if label in on_killed_worker]
            if not interrupted:
                topology.replace_worker(worker_number)
        assert interrupted, f"{len(worker_kills)} worker kills, and each task had left its worker before the kill"

        def all_finished() -> list[tuple[Any, ...]] | None:
            rows = task_rows()
            done = len(rows) == len(expected) and all(row[2] in FINISHED for row in rows)
            return rows if done else None

        rows = cluster.wait_for("every task to end", all_finished, timeout=900)
        finished = time.time()
        sampler.sample()
        sampler.stop()
        report = cluster.report()
        token_requests = simulator.journal.token_requests()

    # -- every task ends as the catalogue says
    states = {task_label(t, m): state for t, m, state, *_ in rows}
    assert states == expected, report
    # -- every OFS run triggered exactly once, the killed worker's tasks included
    for batch in [*dags.MAPPED_BATCHES, dags.GROUP, dags.WATCHED_BATCH]:
        assert simulator.journal.runs_created(batch) == 1, f"{batch}: {simulator.journal.runs_created(batch)} runs"
    assert simulator.journal.count("rerun") == 0
    tries_of = {task_label(t, m): try_number for t, m, _, try_number, *_ in rows}
    assert all(tries_of[label] >= 2 for label in interrupted), "the kill cost each caught task a try" + str(tries_of)
    # -- the killed triggerer's runs moved to the survivor, which polled them to their end
    runs_by_batch = {view.name: view for view in simulator.runs.values() if view.parent is None}
    moved = [
        label
        for task_id, map_index in on_killed_triggerer
        if task_id == "run_batch"
        for label in [task_label(task_id, map_index)]
        if (run := runs_by_batch[dags.MAPPED_BATCHES[map_index]]).finished_at
        and run.finished_at > triggerer_killed_at
        and any(e.at > triggerer_killed_at for e in simulator.journal.entries("status", run.name))
    ]
    assert moved, f"no run of the killed triggerer ({on_killed_triggerer}) was polled after the kill"
    # -- no task waits long after its run ended
    waiters = {task_label("run_batch", i): batch for i, batch in enumerate(dags.MAPPED_BATCHES)}
    waiters |= {"run_group": dags.GROUP, "watch_watched": dags.WATCHED_BATCH}
    end_dates = {task_label(t, m): end_date for t, m, _, _, end_date, _ in rows}
    ended = {name: run_end(view, simulator.runs.values()) for name, view in runs_by_batch.items()}
    waits = {
        label: end_dates[label].timestamp() - end
        for label, batch in waiters.items()
        if (end := ended[batch]) is not None
    }
    assert len(waits) == len(waiters), "every watched run ended"
    too_long = {label: round(wait, 1) for label, wait in waits.items() if wait > MAX_WAIT_AFTER_RUN_END}
    assert not too_long, f"tasks that ended more than {MAX_WAIT_AFTER_RUN_END:g} s after their run: {too_long}"
    # -- at most one token per process that talks to OFS: each task try, each triggerer
    tries = sum(row[3] for row in rows)
    assert token_requests <= tries + len(topology.triggerers), (token_requests, tries)
    # -- no secret in any process log or task log
    basic = base64.b64encode(f"{CREDENTIALS.client_id}:{CREDENTIALS.client_secret}".encode()).decode()
    secrets = {"password": CREDENTIALS.password, "client secret": CREDENTIALS.client_secret, "Basic auth": basic}
    for number, tokens in enumerate(issued, 1):
        secrets[f"access token #{number}"] = tokens.access_token
        secrets[f"refresh token #{number}"] = tokens.refresh_token
    logs = [
        path for path in home.rglob("*") if path.is_file() and (path.suffix in (".out", ".log") or "logs" in path.parts)
    ]
    task_logs = [path for path in logs if "logs" in path.relative_to(home).parts]
    assert len(task_logs) >= len(expected), f"only {len(task_logs)} task log files"
    assert any("Triggered OFS batch TOPO_01" in path.read_text(errors="replace") for path in task_logs)
    leaks = scan_for_secrets(logs, secrets)
    assert not leaks, "secrets leaked: " + "; ".join(leaks)

    # -- the measured figures (docs/production.md)
    untouched = {label: wait for label, wait in waits.items() if label not in interrupted}
    polls = simulator.journal.count("status")
    lines = [
        f"topology: 2 triggerers, 2 Celery workers, {len(expected)} tasks, {len(simulator.runs)} OFS runs "
        f"({len(waiters)} watched), {finished - started:.0f} s from unpause to the last task's end",
        f"killed: triggerer job {victim_job} holding {len(on_killed_triggerer)} triggers; {', '.join(worker_kills)} "
        f"(the last was running {interrupted}, whose tries are now {[tries_of[label] for label in interrupted]}); "
        f"{len(moved)} runs moved to the surviving triggerer",
        f"task end after run end (s): median {statistics.median(waits.values()):.1f}, "
        f"p90 {statistics.quantiles(waits.values(), n=10)[-1]:.1f}, max {max(waits.values()):.1f}; "
        f"without the killed worker's: median {statistics.median(untouched.values()):.1f}, "
        f"max {max(untouched.values()):.1f}",
        f"OFS calls: {polls} status polls, {token_requests} token requests for {tries} task tries "
        f"+ {len(topology.triggerers)} triggerers",
    ]
    total_cpu = 0.0
    for name, usage in sampler.usage.items():
        (t0, cpu0), (t1, cpu1) = idle_start[name], idle[name]
        idle_rate = (cpu1 - cpu0) / max(t1 - t0, 1e-6)
        last_time, last_cpu, _ = usage.samples[-1]
        busy = max(0.0, (last_cpu - cpu1) - idle_rate * (last_time - t1))
        total_cpu += busy
        idle_rss = usage.samples[0][2]
        lines.append(
            f"{name}: {last_cpu - cpu1:.1f} s CPU while the DAG ran ({busy:.1f} s above its idle "
            f"{idle_rate * 100:.1f} % of a core), RSS idle {idle_rss / 2**20:.0f} MiB, "
            f"peak {usage.peak_rss_bytes / 2**20:.0f} MiB, at most {sampler.max_counts.get(name, 0)} triggers at once"
        )
    peak_rss_growth = max(u.peak_rss_bytes - u.samples[0][2] for u in sampler.usage.values())
    lines.append(
        f"triggerers together: {total_cpu / len(waiters) * 1000:.0f} ms CPU per watched run, "
        f"{total_cpu / max(polls, 1) * 1000:.1f} ms CPU per status poll; peak RSS growth of one triggerer "
        f"{peak_rss_growth / 2**20:.1f} MiB for up to {len(waiters)} runs"
    )
    summary = "\n".join(lines)
    print("\n" + summary)
    (tmp_path / "topology-summary.txt").write_text(summary + "\n")
    if out := os.environ.get("OFS_TOPOLOGY_SUMMARY"):
        Path(out).write_text(summary + "\n")
