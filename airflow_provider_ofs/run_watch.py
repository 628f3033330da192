"""``RunWatch``: the watch of one OFS run without I/O; fed each status and the clock, it says what to do next.

A sans-I/O core, as h11 is for HTTP. The operator's wait on a worker, ``OFSBatchRunTrigger`` and
``OFSBatchRunSensor`` fetch a status, hand it to ``RunWatch.look`` with the time, and act on the ``Look`` it
returns: log its notes, then sleep its pause, or end as it says (success, failure, restart, deadline).
Task filters, held work, restarts, deadlines and the interrupt are decided here and nowhere else. The
trigger's event carries the watch's ending to the task: ``RunWatch.event`` builds it, ``RunWatch.resume``
reads it back. Like ``watching``, it imports no Airflow module itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from airflow_provider_ofs.exceptions import OFSNotOngoingError, OFSRunFailedError, OFSSchedulerError, fails_at_once
from airflow_provider_ofs.published import RunOutcome
from airflow_provider_ofs.states import RunState, RunStatus
from airflow_provider_ofs.watching import (
    Assessment,
    EventStatus,
    RunProgress,
    Verdict,
    WatchEvent,
    assess,
    run_failed_error,
)

#: A line to log: its ``logging`` level and its text.
Note = tuple[int, str]


class End(Enum):
    """How a watch ended, as far as its driver must act on it."""

    SUCCESS = "success"  # the run (or the watched tasks) ended well
    FAILURE = "failure"  # it failed and no restart is left: raise ``Look.error``
    RESTART = "restart"  # it failed with a restart left: restart the run, then tell ``RunWatch.restarted``
    DEADLINE = "deadline"  # the deadline passed first: interrupt the run when ``Look.interrupt`` says so
    LOST = "lost"  # the trigger stopped watching on an error (its event read back): raise ``Look.error``


@dataclass(frozen=True)
class Look:
    """The watch's answer to one status (or to the trigger's event): what to log, whether it is over, and how.

    While the watch goes on (``end`` is ``None``) the driver sleeps ``pause`` seconds and looks again.
    ``outcome`` is what to publish about a run that ended (success or failure); ``error`` what the task
    raises (failure, lost), or why it restarts; ``interrupt`` asks the driver to interrupt the run at the
    deadline, and ``interrupted`` says the trigger did already.
    """

    notes: tuple[Note, ...] = ()
    end: End | None = None
    pause: float = 0.0
    state: RunState | None = None
    held_tasks: tuple[str, ...] = ()
    outcome: RunOutcome | None = None
    waited: float = 0.0
    interrupt: bool = False
    interrupted: bool = False
    error: OFSSchedulerError | None = None
    message: str = ""


class RunWatch:
    """The watch of one run: each status and the time in, a ``Look`` out (no I/O, no sleeping).

    An answer equal to the previous one changes no line and no verdict, and is not assessed again: the
    triggerer polls hundreds of runs whose answers rarely change.

    :param run_id: the run watched; a restart replaces it (``restarted``).
    :param poll_interval: seconds between two status calls.
    :param waiting_since: epoch seconds when the wait began (``Look.waited`` counts from it).
    :param batch_name: the run's batch or group, needed to interrupt it (``None``: it is never interrupted).
    :param tasks: only these task codes decide (a list, or comma-separated text); ``None`` or empty: the run.
    :param deadline: absolute epoch seconds when the wait ends (``None``: no limit).
    :param max_restarts: how many times a failed run is restarted before the watch fails.
    :param restarts_done: restarts made by earlier parts of this wait (the task resumed after the trigger).
    :param interrupt_on_kill: at the deadline ``True`` interrupts the run and ``False`` leaves it running and says
        so; ``None`` leaves it without a word: the run is not this watch's to stop (a sensor's), or the task that
        resumes after the trigger says what it does.
    """

    def __init__(
        self,
        run_id: str,
        *,
        poll_interval: float,
        waiting_since: float,
        batch_name: str | None = None,
        tasks: str | Sequence[str] | None = None,
        deadline: float | None = None,
        max_restarts: int = 0,
        restarts_done: int = 0,
        interrupt_on_kill: bool | None = None,
    ) -> None:
        self.run_id = run_id
        self.poll_interval = poll_interval
        self.waiting_since = waiting_since
        self.batch_name = batch_name
        self.tasks = task_codes(tasks)
        self.deadline = deadline
        self.max_restarts = max_restarts
        self.restarts_done = restarts_done
        self.interrupt_on_kill = interrupt_on_kill
        self.last: RunStatus | None = None  # the last status that differed from the one before
        self._progress = RunProgress(run_id, poll_interval)
        self._waiting = Look(pause=poll_interval)  # the answer to most polls, built once

    def look(self, status: RunStatus, now: float) -> Look:
        """The answer to a status read at ``now``: its log lines, and whether the watch is over or when to look next."""
        notes: tuple[Note, ...] = ()
        # An unchanged answer changes no line and no verdict (``StatusPoll`` returns the same object for it).
        if status is not self.last and status != self.last:
            self.last = status
            notes = tuple((logging.INFO, line) for line in self._progress.update(status))
            assessment = assess(status, self.tasks)
            if assessment.verdict is not Verdict.WAIT:
                return self._ended(status, assessment, notes, now - self.waiting_since)
        deadline = self.deadline
        if deadline is None or deadline - now >= self.poll_interval:
            return Look(notes, pause=self.poll_interval) if notes else self._waiting
        if now < deadline:
            return Look(notes, pause=deadline - now)
        interrupt = self._interrupts()
        return Look(
            (*notes, *self._deadline_notes(interrupt)),
            End.DEADLINE,
            state=status.state,
            held_tasks=tuple(status.held_tasks),
            waited=now - self.waiting_since,
            interrupt=interrupt,
        )

    def restarted(self, run_id: str) -> tuple[Note, ...]:
        """The driver restarted the run (``End.RESTART``) and OFS answered ``run_id``: watch that one now."""
        self.restarts_done += 1
        self.run_id = run_id
        self.last = None
        return ((logging.INFO, f"Restart {self.restarts_done} of {self.max_restarts}: watching OFS run {run_id}"),)

    def resume(self, event: WatchEvent) -> Look:
        """The trigger's event read back as the answer it stands for, for the task that resumes after it.

        The restart rule and the interrupt at the deadline apply as on the worker: a failure restarts the run
        while restarts are left, and a run the trigger did not interrupt at the deadline is interrupted now
        when ``interrupt_on_kill`` says so.
        """
        waited, state = event.waited_seconds, event.state
        if event.status is EventStatus.SUCCESS:
            return Look(end=End.SUCCESS, state=state, outcome=event.outcome(), waited=waited, message=event.message)
        if event.status is EventStatus.TIMEOUT:
            interrupt = not event.interrupted and self._interrupts()
            return Look(
                () if event.interrupted else self._deadline_notes(interrupt),
                End.DEADLINE,
                state=state,
                held_tasks=tuple(event.held_tasks),
                waited=waited,
                interrupt=interrupt,
                interrupted=event.interrupted,
                message=event.message,
            )
        error = event.error()
        if isinstance(error, OFSRunFailedError):  # a FAILED event
            return self._failed(error, event.outcome(), (), waited)
        return Look(end=End.LOST, state=state, waited=waited, error=error, message=event.message)

    def event(self, look: Look, *, interrupted: bool = False) -> WatchEvent:
        """The trigger's event for a look that ended the watch; ``interrupted``: the trigger interrupted the run."""
        outcome = look.outcome or RunOutcome(None)
        if look.end is End.DEADLINE:
            assert look.state is not None, "the deadline is only reached after a status was read"
            held = f"; held: {', '.join(look.held_tasks)}" if look.held_tasks else ""
            stopped = "; the run was interrupted" if interrupted else ""
            status = EventStatus.TIMEOUT
            message = f"OFS run {self.run_id} did not finish by its deadline; last state {look.state.describe()}"
            message += f"{held}{stopped}"
        else:
            status = EventStatus.SUCCESS if look.end is End.SUCCESS else EventStatus.FAILED
            message = look.message
        return self._event(
            status,
            message,
            look.state,
            look.waited,
            failed_tasks=outcome.failed_tasks,
            held_tasks=look.held_tasks,
            children=outcome.children,
            interrupted=interrupted,
        )

    def lost(self, error: Exception, now: float) -> WatchEvent:
        """The trigger's ``error`` event when watching stopped on ``error``, with the last state and held work."""
        state, held = (self.last.state, self.last.held_tasks) if self.last is not None else (None, [])
        waited = now - self.waiting_since
        if fails_at_once(error):  # no retry can fix it, and nothing was lost
            return self._event(EventStatus.ERROR, str(error), state, waited, held_tasks=held, refused=True)
        message = (
            f"Lost track of OFS run {self.run_id} ({type(error).__name__}: {error}). "
            f"The run may still be going; a retry of the task reconnects to it when durable."
        )
        return self._event(EventStatus.ERROR, message, state, waited, held_tasks=held)

    def _ended(self, status: RunStatus, assessment: Assessment, notes: tuple[Note, ...], waited: float) -> Look:
        if assessment.verdict is Verdict.SUCCESS:
            outcome = RunOutcome.of(status, status.state)
            message = f"OFS run {self.run_id} succeeded"
            return Look(notes, End.SUCCESS, state=status.state, outcome=outcome, waited=waited, message=message)
        outcome = RunOutcome.of(status, assessment.state, assessment.failed_tasks)
        return self._failed(run_failed_error(self.run_id, assessment), outcome, notes, waited)

    def _failed(
        self, error: OFSRunFailedError, outcome: RunOutcome | None, notes: tuple[Note, ...], waited: float
    ) -> Look:
        """A failure ends the watch, or asks for a restart while restarts are left."""
        if self.restarts_done < self.max_restarts:
            why = f"{error}; restarting it (restart {self.restarts_done + 1} of {self.max_restarts})"
            return Look((*notes, (logging.WARNING, why)), End.RESTART, state=error.state, waited=waited, error=error)
        return Look(
            notes, End.FAILURE, state=error.state, outcome=outcome, waited=waited, error=error, message=str(error)
        )

    def _interrupts(self) -> bool:
        """Whether the run is interrupted at the deadline: ``interrupt_on_kill``, and a batch name to do it with."""
        return bool(self.interrupt_on_kill and self.batch_name)

    def _deadline_notes(self, interrupt: bool) -> tuple[Note, ...]:
        late = f"OFS run {self.run_id} did not finish by its deadline"
        if interrupt:
            return ((logging.WARNING, f"{late}; interrupting it"),)
        if self.interrupt_on_kill is False:
            return ((logging.WARNING, f"{late}; left running (interrupt_on_kill is off)"),)
        return ()

    def _event(
        self,
        status: EventStatus,
        message: str,
        state: RunState | None,
        waited: float,
        *,
        failed_tasks: Iterable[str] = (),
        held_tasks: Iterable[str] = (),
        children: Iterable[tuple[str, str]] = (),
        interrupted: bool = False,
        refused: bool = False,
    ) -> WatchEvent:
        return WatchEvent(
            status=status,
            run_id=self.run_id,
            message=message,
            state=state,
            failed_tasks=list(failed_tasks),
            held_tasks=list(held_tasks),
            batch_name=self.batch_name,
            deadline=self.deadline,
            waited_seconds=round(waited, 3),
            interrupted=interrupted,
            children=list(children),
            refused=refused,
        )


def task_codes(tasks: str | Sequence[str] | None) -> list[str] | None:
    """The task codes a watch is limited to (a list, or comma-separated text); ``None`` when none are named."""
    if not tasks:
        return None
    codes = tasks.split(",") if isinstance(tasks, str) else [str(code) for code in tasks]
    return [code.strip() for code in codes if code.strip()] or None


def interrupt_result(run_id: str, batch_name: str, error: Exception | None) -> tuple[bool, tuple[Note, ...]]:
    """Whether a run is stopped after an interrupt call that raised ``error`` (``None``: none), and what to log.

    The interrupt is best effort: a run that had already ended counts as stopped, and any other error is
    logged with what to do, never raised over the task's own error.
    """
    if error is None:
        return True, ()
    if isinstance(error, OFSNotOngoingError):
        return True, ((logging.INFO, f"OFS run {run_id} had already ended; nothing to interrupt"),)
    failed = (
        f"Could not interrupt OFS run {run_id} of {batch_name} ({type(error).__name__}: {error}); "
        f"interrupt it from the OFS batch monitor"
    )
    return False, ((logging.WARNING, failed),)


def kill_plan(run_id: str | None, batch_name: str | None, interrupt_on_kill: bool) -> tuple[bool, Note]:
    """The task was killed while watching: whether to interrupt the run, and the line to log."""
    if run_id is None:
        return False, (logging.INFO, "Task killed before an OFS run existed; nothing to interrupt")
    if not interrupt_on_kill:
        return False, (logging.INFO, f"Task killed; OFS run {run_id} is left running (interrupt_on_kill is off)")
    if not batch_name:
        return False, (logging.WARNING, f"Cannot interrupt OFS run {run_id}: the trigger has no batch_name")
    return True, (logging.WARNING, f"Task killed; interrupting OFS run {run_id}")


def log_notes(log: Any, notes: Iterable[Note]) -> None:
    """Write a look's notes to a task's or trigger's logger."""
    for level, text in notes:
        log.log(level, "%s", text)
