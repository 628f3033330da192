"""Run and task states of an OFS batch run, as the External Scheduler Interface reports them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class RunState(IntEnum):
    """State of a batch run, a batch-group run, a task or a child batch; values are the documented codes."""

    SUCCESSFUL = 0
    FAILED = -1
    INTERRUPTED = -2
    NOT_STARTED = 1
    ONGOING = 2
    ABORTED = 3
    EXCLUDED = 4
    HELD = 5

    @property
    def is_terminal(self) -> bool:
        """Whether the run will not change state again without an interrupt, restart or rerun."""
        return self in _TERMINAL

    @property
    def is_failure(self) -> bool:
        """Whether this state fails the Airflow task that waits for it."""
        return self in _FAILURES

    @property
    def meaning(self) -> str:
        """The guide's description of the code, for messages."""
        return _MEANINGS[self]

    def describe(self) -> str:
        """The state as people read it in messages: name, code and documented meaning."""
        return f"{self.name} (code {self.value}: {self.meaning})"


_TERMINAL = frozenset({RunState.SUCCESSFUL, RunState.FAILED, RunState.INTERRUPTED, RunState.ABORTED, RunState.EXCLUDED})
_FAILURES = frozenset({RunState.FAILED, RunState.INTERRUPTED, RunState.ABORTED})
#: The states of a run that ended well: successful, or excluded as a whole.
DONE_WITHOUT_FAILURE = frozenset({RunState.SUCCESSFUL, RunState.EXCLUDED})
#: The states of a run that has not ended: not started, ongoing, or held (until released in OFS).
STILL_RUNNING = frozenset({RunState.NOT_STARTED, RunState.ONGOING, RunState.HELD})
_MEANINGS = {
    RunState.SUCCESSFUL: "Success",
    RunState.FAILED: "Failure",
    RunState.INTERRUPTED: "Interrupted",
    RunState.NOT_STARTED: "Not Started",
    RunState.ONGOING: "Ongoing",
    RunState.ABORTED: "Aborted",
    RunState.EXCLUDED: "Excluded",
    RunState.HELD: "Held",
}


@dataclass(frozen=True)
class TaskStatus:
    """One task of a batch run: its task code, state, and the status text OFS sent (``taskStatus``), if any."""

    task_code: str
    state: RunState
    status_text: str = ""


@dataclass(frozen=True)
class RunStatus:
    """What a status call reports about one run: its state, its tasks (batch) or child runs (group)."""

    run_id: str
    state: RunState
    tasks: list[TaskStatus] = field(default_factory=list)
    children: list[RunStatus] = field(default_factory=list)
    state_text: str = ""

    @property
    def failed_tasks(self) -> list[str]:
        """Codes of the tasks that failed, were interrupted or aborted, or run ids of such child runs."""
        return [task.task_code for task in self.tasks if task.state.is_failure] + [
            child.run_id for child in self.children if child.state.is_failure
        ]

    @property
    def held_tasks(self) -> list[str]:
        """Codes of held tasks, or run ids of held child runs: work that keeps the run unfinished."""
        return [task.task_code for task in self.tasks if task.state is RunState.HELD] + [
            child.run_id for child in self.children if child.state is RunState.HELD
        ]

    @property
    def status_texts(self) -> dict[str, str]:
        """The status text OFS sent for each task (by code) and child run (by run id), where it sent one."""
        texts = {task.task_code: task.status_text for task in self.tasks if task.status_text}
        texts.update({child.run_id: child.state_text for child in self.children if child.state_text})
        return texts
