"""Recovery by a person: when a watched run fails, ask in Airflow's Required Actions what to do with it (pure).

``OFSRecovery`` is what a DAG author passes as ``recovery=`` to the trigger, restart and rerun operators. When
their run fails (after ``max_restarts``) the task asks, and waits in Airflow's ``awaiting_input`` state (no
worker slot, no triggerer): **Restart** the run from its failed task, **Rerun** it from the start, **Mark done**
(the task succeeds, with no asset event) or **Fail**. Here is what needs no Airflow: the options, the
question's text, the answer read from Airflow's event, and how an answer is recorded. Asking and carrying
the answer out is ``operators.recovery_ask``'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

RESTART = "Restart"
RERUN = "Rerun"
MARK_DONE = "Mark done"
FAIL = "Fail"
#: The options of the question, in the order the Required Actions page shows them.
OPTIONS = (RESTART, RERUN, MARK_DONE, FAIL)
#: The Airflow that parks a task in ``awaiting_input`` and keeps a task-state store (for acting once).
MINIMUM_AIRFLOW = (3, 3)
#: XCom key of the answers a task was given, oldest first (see ``Answer.record``).
XCOM_RECOVERY_KEY = "ofs_recovery"
#: The longest body the question shows; the rest of the failure message is cut (the task's log has it whole).
MAX_BODY_CHARS = 4000


@dataclass(frozen=True)
class OFSRecovery:
    """How a failed run is put to a person: who is asked, how long they have, and what applies when nobody answers.

    :param response_timeout: how long the question waits (``None``: until someone answers).
    :param default: the option taken when ``response_timeout`` passes: ``"Fail"`` unless said otherwise.
    :param assigned_users: who may answer, as Airflow's ``HITLUser`` (``{"id": ..., "name": ...}``) or a list of
        them; ``None``: whoever may act on the task in Airflow.
    :param notifiers: Airflow notifiers called with the task's context when the question is asked.
    :param max_asks: how many times one try asks; after a Restart or Rerun that fails again it asks again
        until this many questions were answered, then the task fails.
    """

    response_timeout: timedelta | None = None
    default: str = FAIL
    assigned_users: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None
    notifiers: Sequence[Any] = ()
    max_asks: int = 1

    def __post_init__(self) -> None:
        if self.default not in OPTIONS:
            raise ValueError(f"recovery default must be one of {', '.join(OPTIONS)}, not {self.default!r}")
        if isinstance(self.max_asks, bool) or not isinstance(self.max_asks, int) or self.max_asks < 1:
            raise ValueError(f"recovery max_asks must be a whole number of 1 or more, not {self.max_asks!r}")
        if self.response_timeout is not None and not isinstance(self.response_timeout, timedelta):
            raise ValueError(f"recovery response_timeout must be a timedelta or None, not {self.response_timeout!r}")
        if not isinstance(self.notifiers, Sequence):  # one notifier, as Airflow's HITL operators take it
            object.__setattr__(self, "notifiers", (self.notifiers,))

    @property
    def users(self) -> list[Mapping[str, str]] | None:
        """``assigned_users`` as Airflow's HITL detail takes it: a list, or ``None``."""
        if self.assigned_users is None or isinstance(self.assigned_users, Mapping):
            return None if self.assigned_users is None else [self.assigned_users]
        return list(self.assigned_users)


def unsupported_reason(version: tuple[int, int]) -> str | None:
    """Why ``recovery=`` cannot work on Airflow ``version``, or ``None`` when it can."""
    if version >= MINIMUM_AIRFLOW:
        return None
    return (
        f"recovery= asks a person in Airflow's Required Actions, which needs Airflow 3.3 or later (this is "
        f"Airflow {version[0]}.{version[1]}): 3.3 parks the task awaiting the answer and keeps the task-state "
        f"store that makes the chosen action happen once. It needs no standard provider (Airflow's own "
        f"human-in-the-loop API is used). On this Airflow use max_restarts, restart_on_retry, or the "
        f"ofs_manual_recovery example DAG."
    )


def question(
    batch_name: str, run_id: str, mis_date: str | None, failure: str, monitor_url: str | None, ask: int, max_asks: int
) -> tuple[str, str]:
    """The question's subject and Markdown body for run ``run_id`` that failed with ``failure`` (its message)."""
    on = f" for MIS date {mis_date}" if mis_date else ""
    subject = f"OFS batch {batch_name}{on} failed"
    if len(failure) > MAX_BODY_CHARS:
        failure = failure[:MAX_BODY_CHARS] + " … (cut; the task's log has the whole message)"
    lines = [
        f"**{failure}**",
        "",
        f"- Run: `{run_id}`",
        f"- OFS Batch Monitor: {monitor_url}"
        if monitor_url
        else "- OFS Batch Monitor: (the connection has no monitor_url)",
        f"- Question {ask} of at most {max_asks} for this try",
        "",
        f"**{RESTART}** runs what did not succeed again; **{RERUN}** runs the whole batch again; "
        f"**{MARK_DONE}** accepts the run as it is (the task succeeds, with no asset event); "
        f"**{FAIL}** fails the task.",
    ]
    return subject, "\n".join(lines)


@dataclass(frozen=True)
class Answer:
    """The answer to one question: the option, who chose it (``None``: the timeout's default) and when."""

    run_id: str
    choice: str
    by: str | None
    at: str

    @classmethod
    def from_event(cls, run_id: str, event: Mapping[str, Any]) -> Answer:
        """Read Airflow's resume event (``chosen_options``, ``responded_by_user``, ``responded_at``).

        Raises ``ValueError`` naming what is wrong: an error event (no answer, no default) or an unknown option.
        """
        if "error" in event:
            raise ValueError(f"No answer about OFS run {run_id}: {event['error']}")
        chosen = list(event.get("chosen_options") or [])
        if len(chosen) != 1 or chosen[0] not in OPTIONS:
            raise ValueError(f"The answer about OFS run {run_id} chose {chosen!r}; expected one of {OPTIONS}")
        user = event.get("responded_by_user")
        by = None
        if isinstance(user, Mapping):
            by = str(user.get("name") or user.get("id") or "") or None
        at = event.get("responded_at")
        return cls(run_id, chosen[0], by, at.isoformat() if isinstance(at, datetime) else str(at or ""))

    @property
    def who(self) -> str:
        """Who chose, as messages say it."""
        return self.by if self.by is not None else "nobody (the response timeout's default)"

    def sentence(self) -> str:
        """The answer in one line, for the log, errors and the asset event's extra."""
        return f"{self.choice} chosen by {self.who} at {self.at} for OFS run {self.run_id}"

    def record(self) -> dict[str, Any]:
        """The answer as XCom and the lineage facet keep it (``by`` is ``None`` for the timeout's default)."""
        return {"batchRunId": self.run_id, "choice": self.choice, "by": self.by, "at": self.at}


def last_answer(records: Sequence[Mapping[str, Any]] | None) -> str | None:
    """The newest recorded answer (``Answer.record``) in one line, or ``None`` when no person was asked."""
    if not records:
        return None
    newest = records[-1]
    return Answer(str(newest["batchRunId"]), str(newest["choice"]), newest.get("by"), str(newest["at"])).sentence()
