"""``make demo``: start the simulator, run an example DAG with ``airflow dags test``, summarise, stop.

Everything stays on this machine: the simulator listens on 127.0.0.1, Airflow keeps its SQLite
database in ``.demo/airflow`` (git-ignored), and the DAG is read from ``example_dags/``.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Sequence
from pathlib import Path

from airflow_provider_ofs.simulator import RunView, Simulator
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from demo.airflow_home import DEMO_DIR, REPO, DagRunOutcome, DemoAirflow
from demo.watch import SimulatorWatcher

DEFAULT_DAG = "ofs_eod_group_to_reporting"
# The example DAGs read their status-poll interval from this variable (a real batch is polled every minute).
POLL_INTERVAL_VAR = "OFS_EXAMPLE_POLL_INTERVAL"
DEMO_POLL_INTERVAL = "0.5"
DAGS_TEST_LOG = DEMO_DIR / "dags-test.log"
# A traceback's last line, e.g. "airflow_provider_ofs.exceptions.OFSRunFailedError: OFS run ... ended FAILED ..."
_ERROR_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Z]\w*(?:Error|Exception)): (.+)$", re.MULTILINE)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; exit code 0 when the DAG run succeeded."""
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--dag", default=DEFAULT_DAG, help=f"example DAG to run (default {DEFAULT_DAG})")
    parser.add_argument("--speed", type=float, default=1.0, help="simulator time scale (default 1: real seconds)")
    args = parser.parse_args(argv)

    started = time.monotonic()

    def say(line: str) -> None:
        print(f"[{time.monotonic() - started:5.1f}s] {line}", flush=True)

    airflow = DemoAirflow()
    with Simulator(speed=args.speed) as simulator:
        say(f"OFS ESI simulator listening on {simulator.base_url} (built-in demo catalogue)")
        if not airflow.is_migrated:
            say(f"creating the Airflow database in {_shown(airflow.home)} (SQLite, first run only)")
            airflow.migrate()
        env = {CONN_ENV_VAR: simulator.connection_json(), POLL_INTERVAL_VAR: DEMO_POLL_INTERVAL}
        say(f"airflow dags test {args.dag}   (full log: {_shown(DAGS_TEST_LOG)})")
        with SimulatorWatcher(simulator, started) as watcher:
            result = airflow.run("dags", "test", args.dag, log=DAGS_TEST_LOG, env=env)
    say("simulator stopped")
    print()
    dag_run = airflow.latest_dag_run(args.dag)
    _summarise(dag_run, watcher)
    ok = result.returncode == 0 and dag_run is not None and dag_run.state == "success"
    if not ok:
        print(f"\nThe DAG run did not succeed (airflow exit code {result.returncode}); see {_shown(DAGS_TEST_LOG)}.")
    return 0 if ok else 1


def _summarise(dag_run: DagRunOutcome | None, watcher: SimulatorWatcher) -> None:
    if dag_run is None:
        print("No DAG run was recorded: the DAG did not start.")
        for reason in failure_reasons(DAGS_TEST_LOG.read_text(encoding="utf-8", errors="replace")):
            print(f"  why: {reason}")
    else:
        print(f"Airflow DAG run {dag_run.dag_id} / {dag_run.run_id}: {dag_run.state.upper()}")
        width = max((len(task.task_id) for task in dag_run.tasks), default=0)
        for task in dag_run.tasks:
            print(f"  task {task.task_id:<{width}}  {task.state}")
        if any(task.state in ("failed", "upstream_failed") for task in dag_run.tasks):
            for reason in failure_reasons(DAGS_TEST_LOG.read_text(encoding="utf-8", errors="replace")):
                print(f"  why: {reason}")
    print("OFS runs (as the simulator saw them):")
    parents = [view for view in watcher.final_states.values() if view.parent is None]
    if not parents:
        print("  none")
    for view in parents:
        print(f"  {_run_line(view)}")
        for child_id, _ in view.children:
            child = watcher.final_states.get(child_id)
            if child is not None:
                print(f"    {_run_line(child)}")
    print(f"Calls the simulator answered: {watcher.calls()}")


def _run_line(view: RunView) -> str:
    line = f"{view.run_id}  {view.state.text}"
    if view.attempt > 1:
        line += f" (attempt {view.attempt})"
    failed = [code for code, state in view.tasks if state.is_failure]
    if failed:
        line += f"; failed task(s): {', '.join(failed)}"
    return line


def failure_reasons(log_text: str, limit: int = 3) -> list[str]:
    """The distinct OFS/Airflow error messages of a ``dags test`` log, last ones first."""
    reasons: list[str] = []
    for match in reversed(_ERROR_LINE.findall(log_text)):
        reason = f"{match[0]}: {match[1].strip()}"
        if reason not in reasons:
            reasons.append(reason)
        if len(reasons) == limit:
            break
    return reasons


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)
