"""Watch the simulator while a DAG runs: print each call that changes a run, and each state Airflow saw it in."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from airflow_provider_ofs.simulator import RunCode, RunView, Simulator

RUN_ACTIONS = ("trigger", "restart", "rerun", "interrupt")
REPORTED_STATES = frozenset(
    {RunCode.SUCCESSFUL, RunCode.FAILED, RunCode.INTERRUPTED, RunCode.ABORTED, RunCode.EXCLUDED, RunCode.HELD}
)


class SimulatorWatcher:
    """Polls a running simulator from a background thread and prints what a batch operator would want to see.

    :param simulator: the started simulator.
    :param started_at: ``time.monotonic()`` of the demo's start, for the elapsed-time column.
    :param echo: where lines go (``print`` by default).
    :param interval: seconds between looks.
    """

    def __init__(
        self,
        simulator: Simulator,
        started_at: float,
        echo: Callable[[str], None] = print,
        interval: float = 0.1,
    ) -> None:
        self.simulator = simulator
        self.started_at = started_at
        self.echo = echo
        self.interval = interval
        self.final_states: dict[str, RunView] = {}
        self._seen_entries = 0
        self._last: dict[str, RunCode] = {}  # child runs, by the state their group's answers showed
        self._last_runs: dict[str, tuple[RunCode, int]] = {}
        self._stop = threading.Event()
        self._looking = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="demo-simulator-watcher", daemon=True)

    def __enter__(self) -> SimulatorWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.look()

    def calls(self) -> str:
        """How many calls of each kind the simulator answered, e.g. ``1 token, 1 trigger, 9 status``."""
        counts = Counter(entry.verb for entry in self.simulator.journal)
        order = ["token", "trigger", "status", "restart", "rerun", "interrupt"]
        verbs = sorted(counts, key=lambda verb: order.index(verb) if verb in order else len(order))
        return ", ".join(f"{counts[verb]} {verb}" for verb in verbs) or "none"

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.look()

    def look(self) -> None:
        """Print the new run-changing calls, then the runs whose state became final (or held)."""
        with self._looking:
            self._look()

    def _look(self) -> None:
        # From the journal, not from a sample of the runs: a run can fail and be restarted between two looks,
        # and the journal keeps every state a status answer showed Airflow.
        entries = self.simulator.journal.entries()
        for entry in entries[self._seen_entries :]:
            if entry.verb in RUN_ACTIONS:
                if entry.api_status_code == "0":
                    self._say(f"Airflow -> OFS  {entry.verb} {entry.batch}  =>  run {entry.run_id}")
                else:
                    code = entry.api_status_code or f"HTTP {entry.http_status}"
                    self._say(f"Airflow -> OFS  {entry.verb} {entry.batch}  answered {code}")
            elif entry.verb == "status" and entry.answered is not None:
                self._report(entry.answered)
        self._seen_entries = len(entries)
        self.final_states.update(self.simulator.runs)

    def _report(self, answered: RunView) -> None:
        """Say each state the answer showed for the first time: a group's child runs first (they explain it)."""
        for child_id, state in answered.children:
            if self._last.get(child_id) != state:
                self._last[child_id] = state
                child = self.simulator.get_run(child_id)
                if state in REPORTED_STATES:
                    self._say(self._describe(child if child.state is state else replace(child, state=state, tasks=())))
        key = (answered.state, answered.attempt)
        if self._last_runs.get(answered.run_id) != key:
            self._last_runs[answered.run_id] = key
            if answered.state in REPORTED_STATES:
                self._say(self._describe(answered))

    def _describe(self, view: RunView) -> str:
        name = f"  {view.name} (in group)" if view.parent else view.name
        text = f"OFS             {name:<34} {view.state.text}"
        failed = [f"{code} {state.text}" for code, state in view.tasks if state.is_failure]
        held = [code for code, state in view.tasks if state is RunCode.HELD]
        if failed:
            text += f" - task {', '.join(failed)}"
        if view.state is RunCode.HELD and held:
            text += f" - waiting for release of {', '.join(held)}"
        if view.attempt > 1:
            text += f" (attempt {view.attempt})"
        return text

    def _say(self, line: str) -> None:
        self.echo(f"[{time.monotonic() - self.started_at:5.1f}s] {line}")
