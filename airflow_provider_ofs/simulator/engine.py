"""Run state machine of the simulator: pure, thread-safe, with the clock injected.

No timer runs per run. A run stores when its current execution started and which tasks it
executes; its state is computed from the clock on each look (``evaluate``), so hundreds of
concurrent pollers cost nothing between polls, and tests can drive a fake clock without sleeping.

Rules (ESI-NOTES items in brackets):
- tasks run in list order, each for ``seconds / speed``; a failed or aborted task stops the tasks
  after it, which stay NOT-STARTED;
- excluded tasks (or child batches) are EXCLUDED and skipped; held ones stay HELD and are skipped,
  the work after them continues; a run whose remaining work is held reports HELD, never finished [10];
- ``fail_once`` fails on the first attempt only; restart (and rerun) count as further attempts;
- interrupt: an unfinished run and its running task become INTERRUPTED; again -> -7; a finished run
  -> -8 [9];
- restart: a failed, interrupted or aborted run resumes with the tasks that did not succeed, under
  the same run id; anything else -> -8 [9];
- rerun: a finished run starts again from the beginning as a new run with a new id for the same MIS
  date, or the same id when the catalogue says ``rerun_keeps_run_id`` [8, 9]; unfinished -> -8;
- groups run their batches in order as child runs with their own ids; a failed child stops the
  group, which takes the child's state [12].
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_ofs.simulator.catalogue import BatchSpec, Catalogue, GroupSpec, TaskSpec
from airflow_provider_ofs.simulator.codes import ApiCode, EsiError, RunCode
from airflow_provider_ofs.simulator.protocol import BatchParams, TriggerRequest

UNFINISHED = (RunCode.NOT_STARTED, RunCode.ONGOING, RunCode.HELD)
RESTARTABLE = (RunCode.FAILED, RunCode.INTERRUPTED, RunCode.ABORTED)
RERUNNABLE = (RunCode.SUCCESSFUL, RunCode.FAILED, RunCode.INTERRUPTED, RunCode.ABORTED)


@dataclass(frozen=True)
class RunView:
    """A read-only picture of a run at one instant (what tests assert on)."""

    run_id: str
    name: str
    kind: str  # "batch" or "group"
    state: RunCode
    tasks: tuple[tuple[str, RunCode], ...] = ()
    children: tuple[tuple[str, RunCode], ...] = ()
    mis_date: str = ""
    params: Any = None
    attempt: int = 1
    excluded: tuple[str, ...] = ()
    held: tuple[str, ...] = ()
    parent: str | None = None
    finished_at: float | None = None

    def task_state(self, code: str) -> RunCode:
        return dict(self.tasks)[code]


class BatchRun:
    """One run of a batch."""

    kind = "batch"

    def __init__(
        self,
        run_id: str,
        spec: BatchSpec,
        *,
        start: float,
        speed: float,
        mis_date: str,
        params: BatchParams | None,
        excluded: tuple[str, ...] = (),
        held: tuple[str, ...] = (),
        attempt: int = 1,
        parent: str | None = None,
        fixed: RunCode | None = None,
    ) -> None:
        self.run_id = run_id
        self.spec = spec
        self.speed = speed
        self.mis_date = mis_date
        self.params = params
        self.excluded = excluded
        self.held = held
        self.parent = parent
        self.fixed = fixed  # EXCLUDED child of a group: never executes
        self.attempt = attempt
        self.begin(start, attempt)

    def begin(self, start: float, attempt: int) -> None:
        """(Re)start from the beginning (trigger, or rerun keeping the run id)."""
        self.attempt = attempt
        self.baseline: dict[str, RunCode] = {}
        for code in self.spec.task_codes:
            if code in self.excluded or self.fixed is RunCode.EXCLUDED:
                self.baseline[code] = RunCode.EXCLUDED
            elif code in self.held:
                self.baseline[code] = RunCode.HELD
            else:
                self.baseline[code] = RunCode.NOT_STARTED
        self.override: RunCode | None = self.fixed
        self.terminal: RunCode | None = None
        self.finished_at: float | None = None
        self.exec_start: float | None = None
        self.exec_tasks: tuple[str, ...] = ()
        if self.fixed is None:
            self._execute(start + self.spec.start_delay / self.speed)

    def _execute(self, start: float) -> None:
        self.exec_start = start
        self.exec_tasks = tuple(c for c, s in self.baseline.items() if s is RunCode.NOT_STARTED)
        self.override = None
        self.terminal = None
        self.finished_at = None

    def _outcome(self, task: TaskSpec) -> RunCode:
        if task.outcome == "fail" or (task.outcome == "fail_once" and self.attempt <= 1):
            return RunCode.FAILED
        if task.outcome == "abort":
            return RunCode.ABORTED
        return RunCode.SUCCESSFUL

    def _advance(self, now: float) -> tuple[dict[str, RunCode], bool]:
        """Task states at ``now`` and whether the current execution is still going."""
        states = dict(self.baseline)
        if self.exec_start is None:
            return states, False
        if now < self.exec_start:
            return states, True
        t = self.exec_start
        for code in self.exec_tasks:
            task = self.spec.task(code)
            end = t + task.seconds / self.speed
            if now < end:
                states[code] = RunCode.ONGOING
                return states, True
            t = end
            states[code] = self._outcome(task)
            if states[code] is not RunCode.SUCCESSFUL:
                self.terminal = states[code]
                break
        # The execution is over: freeze it, later looks are O(tasks) without arithmetic.
        self.baseline, self.exec_start, self.exec_tasks, self.finished_at = states, None, (), t
        return states, False

    def evaluate(self, now: float) -> tuple[RunCode, dict[str, RunCode]]:
        states, running = self._advance(now)
        if self.override is not None:
            state = self.override
        elif running:
            assert self.exec_start is not None
            state = RunCode.ONGOING if now >= self.exec_start else RunCode.NOT_STARTED
        elif self.terminal is not None:
            state = self.terminal
        elif RunCode.HELD in states.values():
            state = RunCode.HELD
        else:
            state = RunCode.SUCCESSFUL
        return state, states

    def interrupt(self, now: float) -> None:
        state, states = self.evaluate(now)
        if state is RunCode.INTERRUPTED:
            raise EsiError(ApiCode.ALREADY_INTERRUPTED, f"Run {self.run_id} is already interrupted")
        if state not in UNFINISHED:
            raise EsiError(ApiCode.NOT_ONGOING, f"Run {self.run_id} is not ongoing (state {state.text})")
        self.baseline = {c: RunCode.INTERRUPTED if s is RunCode.ONGOING else s for c, s in states.items()}
        self.exec_start, self.exec_tasks = None, ()
        self.override, self.finished_at = RunCode.INTERRUPTED, now

    def restart(self, now: float) -> None:
        state, states = self.evaluate(now)
        if state not in RESTARTABLE:
            raise EsiError(ApiCode.NOT_ONGOING, f"Run {self.run_id} cannot be restarted: it is {state.text}")
        keep = (RunCode.SUCCESSFUL, RunCode.EXCLUDED, RunCode.HELD)
        self.baseline = {c: s if s in keep else RunCode.NOT_STARTED for c, s in states.items()}
        self.attempt += 1
        self._execute(now)

    def release_held(self, now: float) -> None:
        """Test-only: held tasks become runnable (no such call exists in ESI, ESI-NOTES 10)."""
        state, states = self.evaluate(now)
        released = [c for c, s in states.items() if s is RunCode.HELD]
        self.held = ()
        if not released:
            return
        if state is RunCode.ONGOING and self.exec_start is not None:
            for code in released:
                self.baseline[code] = RunCode.NOT_STARTED
            self.exec_tasks = (*self.exec_tasks, *released)
        elif state is RunCode.HELD:
            self.baseline = {c: RunCode.NOT_STARTED if s is RunCode.HELD else s for c, s in states.items()}
            self._execute(now)
        else:
            for code in released:
                self.baseline[code] = RunCode.NOT_STARTED

    def view(self, now: float, tasks: tuple[str, ...] | None = None) -> RunView:
        state, states = self.evaluate(now)
        codes = tasks or self.spec.task_codes
        return RunView(
            run_id=self.run_id,
            name=self.spec.name,
            kind=self.kind,
            state=state,
            tasks=tuple((code, states[code]) for code in codes),
            mis_date=self.mis_date,
            params=self.params.as_dict() if self.params else {},
            attempt=self.attempt,
            excluded=self.excluded,
            held=self.held,
            parent=self.parent,
            finished_at=self.finished_at if state.is_finished else None,
        )


@dataclass
class GroupRun:
    """One run of a batch group; ``children[i]`` is the run id of batch i once decided."""

    run_id: str
    spec: GroupSpec
    mis_date: str
    params: Mapping[str, BatchParams] | None
    excluded: tuple[str, ...]
    held: tuple[str, ...]
    exec_start: float | None
    attempt: int = 1
    override: RunCode | None = None
    children: list[str | None] = field(default_factory=list)

    kind = "group"


class Engine:
    """All runs of one simulator. Every public method takes the engine lock."""

    def __init__(self, catalogue: Catalogue, *, speed: float = 1.0, clock: Callable[[], float] = time.time):
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.catalogue = catalogue
        self.speed = float(speed)
        self.clock = clock
        self._runs: dict[str, BatchRun | GroupRun] = {}
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- helpers
    def _new_id(self, name: str, mis_date: str, start: float) -> str:
        """``<NAME>_<yyyy-mm-dd>_<epoch-millis>_<n>`` (ESI-NOTES 8), unique."""
        millis, n = int(start * 1000), 1
        while f"{name}_{mis_date}_{millis}_{n}" in self._runs:
            n += 1
        return f"{name}_{mis_date}_{millis}_{n}"

    def _today(self, now: float) -> str:
        return dt.date.fromtimestamp(now).isoformat()

    def _get(self, run_id: str) -> BatchRun | GroupRun:
        run = self._runs.get(run_id)
        if run is None:
            raise EsiError(ApiCode.NOT_FOUND, f"Batch run {run_id} does not exist")
        return run

    def _get_named(self, name: str, run_id: str) -> BatchRun | GroupRun:
        run = self._get(run_id)
        if run.spec.name != name:
            raise EsiError(ApiCode.NOT_FOUND, f"Batch run {run_id} does not belong to {name}")
        return run

    def _new_batch_run(
        self,
        spec: BatchSpec,
        start: float,
        *,
        mis_date: str,
        params: BatchParams | None,
        excluded: tuple[str, ...] = (),
        held: tuple[str, ...] = (),
        attempt: int = 1,
        parent: str | None = None,
        fixed: RunCode | None = None,
    ) -> BatchRun:
        run = BatchRun(
            self._new_id(spec.name, mis_date, start),
            spec,
            start=start,
            speed=self.speed,
            mis_date=mis_date,
            params=params,
            excluded=excluded,
            held=held,
            attempt=attempt,
            parent=parent,
            fixed=fixed,
        )
        self._runs[run.run_id] = run
        return run

    def _new_group_run(self, spec: GroupSpec, now: float, template: GroupRun) -> GroupRun:
        group = GroupRun(
            run_id=self._new_id(spec.name, template.mis_date, now),
            spec=spec,
            mis_date=template.mis_date,
            params=template.params,
            excluded=template.excluded,
            held=template.held,
            exec_start=now,
            attempt=template.attempt,
        )
        self._runs[group.run_id] = group
        self._decide_children(group, now)
        return group

    def _decide_children(self, group: GroupRun, now: float) -> None:
        """Excluded and held child batches get their (never executing) child runs at once."""
        group.children = [None] * len(group.spec.batches)
        for index, name in enumerate(group.spec.batches):
            if name in group.excluded or name in group.held:
                spec = self.catalogue.batches[name]
                child = self._new_batch_run(
                    spec,
                    now,
                    mis_date=self._child_mis_date(group, name),
                    params=(group.params or {}).get(name),
                    held=spec.task_codes if name in group.held else (),
                    parent=group.run_id,
                    fixed=RunCode.EXCLUDED if name in group.excluded else None,
                )
                group.children[index] = child.run_id

    def _child_mis_date(self, group: GroupRun, name: str) -> str:
        params = (group.params or {}).get(name)
        return (params.mis_date if params else None) or group.mis_date

    def _evaluate_group(self, group: GroupRun, now: float) -> tuple[RunCode, list[tuple[str, RunCode]]]:
        """State of a group and of its decided children; starts each child when its turn comes."""
        cursor = group.exec_start
        decided: list[tuple[str, RunCode]] = []
        state: RunCode | None = None
        any_held = False
        for index, name in enumerate(group.spec.batches):
            child_id = group.children[index]
            if child_id is None:
                if cursor is None:  # interrupted before this child started
                    break
                spec = self.catalogue.batches[name]
                new = self._new_batch_run(
                    spec,
                    cursor,
                    mis_date=self._child_mis_date(group, name),
                    params=(group.params or {}).get(name),
                    parent=group.run_id,
                )
                child_id = group.children[index] = new.run_id
            child = self._runs[child_id]
            assert isinstance(child, BatchRun)
            child_state, _ = child.evaluate(now)
            decided.append((child_id, child_state))
            if child_state in (RunCode.SUCCESSFUL, RunCode.EXCLUDED):
                if cursor is not None and child.finished_at is not None:
                    cursor = max(cursor, child.finished_at)
                continue
            if child_state is RunCode.HELD and name in group.held:
                any_held = True
                continue
            state = RunCode.ONGOING if child_state is RunCode.NOT_STARTED else child_state
            break
        else:
            state = RunCode.HELD if any_held else RunCode.SUCCESSFUL
        if group.override is not None:
            state = group.override
        return (state if state is not None else RunCode.INTERRUPTED), decided

    def _group_view(self, group: GroupRun, now: float) -> RunView:
        state, children = self._evaluate_group(group, now)
        return RunView(
            run_id=group.run_id,
            name=group.spec.name,
            kind="group",
            state=state,
            children=tuple(children),
            mis_date=group.mis_date,
            params=[{"batchName": n, **p.as_dict()} for n, p in (group.params or {}).items()],
            attempt=group.attempt,
            excluded=group.excluded,
            held=group.held,
        )

    def _view(self, run: BatchRun | GroupRun, now: float, tasks: tuple[str, ...] | None = None) -> RunView:
        if isinstance(run, GroupRun):
            return self._group_view(run, now)
        return run.view(now, tasks)

    # ----------------------------------------------------------------- the five verbs
    def trigger(self, request: TriggerRequest) -> RunView:
        with self._lock:
            now = self.clock()
            mis_date = request.mis_date or self._today(now)
            if not request.is_group:
                spec = self.catalogue.batches[request.name]
                if set(request.excluded) >= set(spec.task_codes):
                    raise EsiError(ApiCode.NO_EXECUTABLE_JOB, f"Every task of batch {spec.name} is excluded")
                run = self._new_batch_run(
                    spec,
                    now,
                    mis_date=mis_date,
                    params=request.batch_params,
                    excluded=request.excluded,
                    held=request.held,
                )
                return run.view(now)
            group_spec = self.catalogue.groups[request.name]
            if set(request.excluded) >= set(group_spec.batches):
                raise EsiError(ApiCode.NO_EXECUTABLE_JOB, f"Every batch of group {group_spec.name} is excluded")
            template = GroupRun(
                run_id="",
                spec=group_spec,
                mis_date=mis_date,
                params=request.group_params,
                excluded=request.excluded,
                held=request.held,
                exec_start=now,
            )
            return self._group_view(self._new_group_run(group_spec, now, template), now)

    def status(self, run_id: str, tasks: tuple[str, ...] | None = None) -> RunView:
        with self._lock:
            run = self._get(run_id)
            if tasks and isinstance(run, BatchRun):
                for code in tasks:
                    if code not in run.spec.task_codes:
                        raise EsiError(ApiCode.NOT_FOUND, f"Task {code} does not exist in batch {run.spec.name}")
            return self._view(run, self.clock(), tasks or None)

    def interrupt(self, name: str, run_id: str) -> RunView:
        with self._lock:
            now = self.clock()
            run = self._get_named(name, run_id)
            if isinstance(run, BatchRun):
                run.interrupt(now)
                return run.view(now)
            state, children = self._evaluate_group(run, now)
            if state is RunCode.INTERRUPTED:
                raise EsiError(ApiCode.ALREADY_INTERRUPTED, f"Run {run_id} is already interrupted")
            if state not in UNFINISHED:
                raise EsiError(ApiCode.NOT_ONGOING, f"Run {run_id} is not ongoing (state {state.text})")
            for child_id, child_state in children:
                child = self._runs[child_id]
                held_child = isinstance(child, BatchRun) and child.spec.name in run.held
                if child_state in UNFINISHED and not held_child:
                    assert isinstance(child, BatchRun)
                    child.interrupt(now)
            run.override, run.exec_start = RunCode.INTERRUPTED, None
            return self._group_view(run, now)

    def restart(self, name: str, run_id: str) -> RunView:
        with self._lock:
            now = self.clock()
            run = self._get_named(name, run_id)
            if isinstance(run, BatchRun):
                run.restart(now)
                return run.view(now)
            state, children = self._evaluate_group(run, now)
            if state not in RESTARTABLE:
                raise EsiError(ApiCode.NOT_ONGOING, f"Run {run_id} cannot be restarted: it is {state.text}")
            for child_id, child_state in children:
                child = self._runs[child_id]
                if child_state in RESTARTABLE and isinstance(child, BatchRun):
                    child.restart(now)
            run.override, run.exec_start, run.attempt = None, now, run.attempt + 1
            return self._group_view(run, now)

    def rerun(self, name: str, run_id: str) -> RunView:
        with self._lock:
            now = self.clock()
            run = self._get_named(name, run_id)
            state = self._view(run, now).state
            if state not in RERUNNABLE:
                raise EsiError(ApiCode.NOT_ONGOING, f"Run {run_id} cannot be rerun: it is {state.text}")
            if isinstance(run, BatchRun):
                if run.spec.rerun_keeps_run_id:
                    run.begin(now, run.attempt + 1)
                    return run.view(now)
                new = self._new_batch_run(
                    run.spec,
                    now,
                    mis_date=run.mis_date,
                    params=run.params,
                    excluded=run.excluded,
                    held=run.held,
                    attempt=run.attempt + 1,
                )
                return new.view(now)
            if run.spec.rerun_keeps_run_id:
                run.override, run.exec_start, run.attempt = None, now, run.attempt + 1
                self._decide_children(run, now)
                return self._group_view(run, now)
            template = GroupRun(
                run_id="",
                spec=run.spec,
                mis_date=run.mis_date,
                params=run.params,
                excluded=run.excluded,
                held=run.held,
                exec_start=now,
                attempt=run.attempt + 1,
            )
            return self._group_view(self._new_group_run(run.spec, now, template), now)

    # ----------------------------------------------------------------- test helpers
    def release_held(self, run_id: str) -> RunView:
        """Test-only: let the held tasks of a batch run execute."""
        with self._lock:
            now = self.clock()
            run = self._runs.get(run_id)
            if run is None:
                raise KeyError(run_id)
            if isinstance(run, GroupRun):
                raise ValueError("release_held works on batch runs (child runs of a group included)")
            run.release_held(now)
            return run.view(now)

    def batch_of(self, run_id: str) -> str | None:
        """Batch or group name of a run (used to match faults), None when unknown."""
        with self._lock:
            run = self._runs.get(run_id)
            return run.spec.name if run else None

    def get(self, run_id: str) -> RunView:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                raise KeyError(run_id)
            return self._view(run, self.clock())

    def all(self) -> dict[str, RunView]:
        with self._lock:
            now = self.clock()
            return {run_id: self._view(run, now) for run_id, run in list(self._runs.items())}

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
