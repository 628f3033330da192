"""Rules for watching an OFS run, below ``run_watch.RunWatch``, which applies them (pure: no I/O).

- ``assess``: from a ``RunStatus`` (optionally only some tasks), keep waiting, succeed or fail.
- ``RunProgress``: the log lines worth writing for a poll — each state change once, and held work.
- ``wait_deadline`` and ``try_deadline``: the absolute epoch deadline from the operator's ``timeout`` and the
  task's ``execution_timeout``, which counts from the start of the task try.
- ``first_trigger_look``: when a trigger may look at a run for the first time after the task deferred.
- ``WatchEvent``: the one event a trigger yields, its payload format and its validation.

It imports no Airflow module itself; the errors it builds (``exceptions``) derive from Airflow's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import Any, NoReturn

from airflow_provider_ofs.exceptions import (
    OFSRunFailedError,
    OFSRunLostError,
    OFSRunTimeoutError,
    OFSSchedulerError,
    OFSTasksOfGroupError,
    OFSWatchRefusedError,
    fails_at_once,
)
from airflow_provider_ofs.published import RunOutcome
from airflow_provider_ofs.states import DONE_WITHOUT_FAILURE, RunState, RunStatus


class Verdict(Enum):
    """What a status means for whoever waits for the run."""

    WAIT = "wait"
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class Assessment:
    """The verdict on one status, with the state and task codes a message needs."""

    verdict: Verdict
    state: RunState
    failed_tasks: list[str] = field(default_factory=list)
    reason: str = ""
    status_texts: Mapping[str, str] = field(default_factory=dict)


def assess(status: RunStatus, tasks: Sequence[str] | None = None) -> Assessment:
    """Decide from a status whether to keep waiting, succeed or fail (the status-code table of the README).

    Without ``tasks`` the run's own state decides: successful (or excluded) succeeds; failed,
    interrupted or aborted fails; not started, ongoing or held keeps waiting. With ``tasks`` (the
    sensor's filter) only those task codes count: success once each is successful or excluded,
    failure as soon as one failed, was interrupted or aborted — or when the run ended while one of
    them can no longer finish. ``tasks`` for the run of a batch group (its status lists child runs) raises
    ``OFSTasksOfGroupError``: the guide documents ``tasks`` for batches, and child runs carry no batch code.
    """
    if not tasks:
        if status.state in DONE_WITHOUT_FAILURE:
            return Assessment(Verdict.SUCCESS, status.state)
        if status.state.is_failure:
            return Assessment(Verdict.FAILURE, status.state, status.failed_tasks, status_texts=status.status_texts)
        return Assessment(Verdict.WAIT, status.state)
    if status.children:
        raise OFSTasksOfGroupError(status.run_id, tasks)
    reported = {task.task_code: task.state for task in status.tasks}
    failed = [code for code in tasks if code in reported and reported[code].is_failure]
    if failed:
        state = status.state if status.state.is_failure else reported[failed[0]]
        return Assessment(Verdict.FAILURE, state, failed, status_texts=status.status_texts)
    unfinished = [code for code in tasks if reported.get(code) not in DONE_WITHOUT_FAILURE]
    if not unfinished:
        return Assessment(Verdict.SUCCESS, status.state)
    if status.state.is_terminal:
        missing = [code for code in unfinished if code not in reported]
        why = f"tasks {', '.join(missing)} are not in the run" if missing else "they can no longer run"
        return Assessment(
            Verdict.FAILURE,
            status.state,
            unfinished,
            reason=f"the run ended {status.state.describe()} before tasks {', '.join(unfinished)} finished ({why})",
        )
    return Assessment(Verdict.WAIT, status.state)


def run_failed_error(run_id: str, assessment: Assessment) -> OFSRunFailedError:
    """The error for a failed run (or watched tasks): run id, state and the failed task or child codes."""
    return OFSRunFailedError(
        run_id, assessment.state, assessment.failed_tasks, assessment.status_texts, reason=assessment.reason
    )


def raise_watch_failure(error: OFSSchedulerError, run_id: str, batch_name: str, retry_reconnects: bool) -> NoReturn:
    """Raise what ended the wait for an existing run, or ``OFSRunLostError`` where a retry would act twice.

    A failed run, a timed-out run that was interrupted, and errors that already fail the task at once
    stay as they are. Anything else (ESI unreachable, a token refused, an undocumented answer, a run
    left going after a timeout) leaves a run that may still be going: when a retry cannot reconnect to
    it, the task fails for good instead.
    """
    if isinstance(error, OFSRunTimeoutError):
        lost = not error.run_stopped
    else:
        lost = not (isinstance(error, OFSRunFailedError) or fails_at_once(error))
    if lost and not retry_reconnects:
        raise OFSRunLostError(run_id, batch_name, error) from error
    raise error


class RunProgress:
    """Remembers what was last logged about a run, so each change is logged once and not every poll."""

    def __init__(self, run_id: str, poll_interval: float | None = None) -> None:
        self.run_id = run_id
        self.poll_interval = poll_interval
        self.last_state: RunState | None = None
        self._parts: dict[str, RunState] = {}
        self._held: list[str] = []

    def update(self, status: RunStatus) -> list[str]:
        """Log lines for what changed since the previous status of this run (none when nothing did).

        One line names the run's new state and the tasks (or child runs) whose state changed, and while the
        run goes on when the next status call is; a second one says which work is held, when that changed.
        """
        if status.run_id != self.run_id:
            self.run_id, self.last_state, self._parts, self._held = status.run_id, None, {}, []
        changes: list[str] = []
        if status.state is not self.last_state:
            text = f" [{status.state_text}]" if status.state_text else ""
            changes.append(f"{status.state.describe()}{text}")
            self.last_state = status.state
        parts = {task.task_code: task.state for task in status.tasks}
        parts.update({f"child run {child.run_id}": child.state for child in status.children})
        changed = [f"{name} {state.name}" for name, state in parts.items() if self._parts.get(name) is not state]
        if changed:
            changes.append(", ".join(changed))
        self._parts = parts
        if changes and self.poll_interval is not None and not status.state.is_terminal:
            changes.append(f"next status call in {self.poll_interval:g} s")
        lines = [f"OFS run {status.run_id}: {'; '.join(changes)}"] if changes else []
        held = status.held_tasks
        if held and held != self._held:
            lines.append(held_line(status.run_id, held))
        self._held = held
        return lines


def held_line(run_id: str, held: Sequence[str]) -> str:
    """The log line for held work: what is held and that only OFS can release it (ESI-NOTES 10)."""
    return (
        f"OFS run {run_id} is not finished: held (code 5) {', '.join(held)}. The External Scheduler "
        f"Interface cannot release held work; release it in OFS, or the wait ends at its timeout."
    )


def wait_deadline(
    now: float,
    timeout: float | None,
    execution_timeout: timedelta | None = None,
    started_at: float | None = None,
) -> float | None:
    """The earliest absolute epoch deadline: ``now + timeout`` and ``started_at + execution_timeout``.

    ``started_at`` is when the task try started (``execution_timeout`` counts from there); ``now`` when
    it is unknown. ``None`` when neither limit is set.
    """
    deadlines = []
    if timeout is not None:
        deadlines.append(now + timeout)
    if execution_timeout is not None:
        deadlines.append((now if started_at is None else started_at) + execution_timeout.total_seconds())
    return min(deadlines) if deadlines else None


def try_deadline(
    context: Mapping[str, Any], now: float, timeout: float | None, execution_timeout: timedelta | None
) -> float | None:
    """The deadline of a wait deferred by a task try: ``wait_deadline``, ``execution_timeout`` from the try's start.

    The try started at ``context["ti"].start_date`` (``now`` when the context has none).
    """
    started = getattr(context.get("ti"), "start_date", None)
    return wait_deadline(now, timeout, execution_timeout, started.timestamp() if started is not None else None)


def first_trigger_look(looked_at: float, pause: float, settle: float) -> float:
    """When the trigger looks first (epoch seconds): a poll after the worker's last look, and ``settle`` at least.

    The worker looks at the run just before deferring, so a run already over never defers; the trigger's
    event then comes no sooner than ``settle`` seconds after the deferral (``_compat.deferral_settle_seconds``),
    so that the task never resumes while Airflow 3's scheduler has yet to hear that the deferring process
    exited: it fails a task resumed in that window on the late report (apache/airflow#72716).
    """
    return looked_at + max(pause, settle)


# ------------------------------------------------------------------------------------------------ events


class EventStatus(str, Enum):
    """The fixed set of trigger event statuses; any other value is rejected."""

    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    ERROR = "error"


@dataclass(frozen=True)
class WatchEvent:
    """The single event ``OFSBatchRunTrigger`` yields; ``payload()`` is its JSON form.

    Payload keys: ``status`` (an ``EventStatus`` value), ``run_id``, ``batch_name``, ``state`` (a
    ``RunState`` name, or ``None`` before any status was read), ``failed_tasks`` and ``held_tasks``
    (task codes, or child run ids of a group), ``message``, ``deadline`` (epoch seconds or ``None``),
    ``waited_seconds``, ``interrupted`` (the trigger interrupted the run at its deadline), ``children``
    (``[run id, state name]`` of each child run of a group, when the run ended), and ``refused`` (an ``error``
    that no retry can fix: the connection, the credentials or an argument; the task fails at once).
    """

    status: EventStatus
    run_id: str
    message: str
    state: RunState | None = None
    failed_tasks: list[str] = field(default_factory=list)
    held_tasks: list[str] = field(default_factory=list)
    batch_name: str | None = None
    deadline: float | None = None
    waited_seconds: float = 0.0
    interrupted: bool = False
    children: list[tuple[str, str]] = field(default_factory=list)
    refused: bool = False

    def payload(self) -> dict[str, Any]:
        """The JSON-serialisable event payload."""
        return {
            "status": self.status.value,
            "run_id": self.run_id,
            "batch_name": self.batch_name,
            "state": self.state.name if self.state is not None else None,
            "failed_tasks": list(self.failed_tasks),
            "held_tasks": list(self.held_tasks),
            "message": self.message,
            "deadline": self.deadline,
            "waited_seconds": self.waited_seconds,
            "interrupted": self.interrupted,
            "children": [list(child) for child in self.children],
            "refused": self.refused,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any] | None) -> WatchEvent:
        """Validate a payload handed to a completion method; a missing or unknown event is an error."""
        if not isinstance(payload, Mapping):
            raise OFSSchedulerError(f"The OFS run trigger resumed the task without an event (got {payload!r})")
        try:
            status = EventStatus(payload.get("status"))
        except ValueError:
            allowed = ", ".join(s.value for s in EventStatus)
            raise OFSSchedulerError(
                f"The OFS run trigger sent an event with status {payload.get('status')!r}; expected one of {allowed}"
            ) from None
        run_id = payload.get("run_id")
        if not isinstance(run_id, str) or not run_id:
            raise OFSSchedulerError(f"The OFS run trigger sent a {status.value} event without a run id")
        state_name = payload.get("state")
        try:
            state = RunState[state_name] if state_name is not None else None
        except KeyError:
            raise OFSSchedulerError(f"The OFS run trigger sent an unknown run state {state_name!r}") from None
        return cls(
            status=status,
            run_id=run_id,
            message=str(payload.get("message") or ""),
            state=state,
            failed_tasks=[str(code) for code in payload.get("failed_tasks") or []],
            held_tasks=[str(code) for code in payload.get("held_tasks") or []],
            batch_name=payload.get("batch_name"),
            deadline=payload.get("deadline"),
            waited_seconds=float(payload.get("waited_seconds") or 0.0),
            interrupted=payload.get("interrupted") is True,
            children=[(str(run_id), str(state)) for run_id, state in payload.get("children") or []],
            refused=payload.get("refused") is True,
        )

    def outcome(self) -> RunOutcome | None:
        """How the run ended, when the trigger saw it succeed or fail; ``None`` for a timeout or a lost watch."""
        if self.status not in (EventStatus.SUCCESS, EventStatus.FAILED):
            return None
        state = self.state.name if self.state is not None else None
        return RunOutcome(state, tuple(self.failed_tasks), tuple(self.children))

    def error(self, *, run_stopped: bool = False) -> OFSSchedulerError | None:
        """The error this event means for the waiting task; ``None`` for success.

        ``run_stopped``: a timed-out run was interrupted (by the trigger, or by the task since).
        """
        if self.status is EventStatus.SUCCESS:
            return None
        if self.status is EventStatus.FAILED:
            assert self.state is not None, "a failed event always carries the run state"
            # The trigger's full message, when it sent one: it names the same run, state and tasks.
            return OFSRunFailedError(self.run_id, self.state, self.failed_tasks, message=self.message)
        if self.status is EventStatus.TIMEOUT:
            return OFSRunTimeoutError(
                self.run_id, self.state, self.waited_seconds, run_stopped=run_stopped or self.interrupted
            )
        message = self.message or f"Watching OFS run {self.run_id} failed"
        return OFSWatchRefusedError(message) if self.refused else OFSSchedulerError(message)
