"""What an action operator keeps in Airflow's task-state store between tries, and how a try reads it (pure).

Under the operator's ``external_id_key`` the store holds one of:

- while a trigger, restart or rerun call is out, the intent marker ``ofs-call-sent-at:<epoch seconds>``,
  followed by `` round:<clear number>/<max tries>`` (``CallOut``);
- once OFS accepted the call, what identifies the run and the round of tries it was made in:
  ``{"run_id": ..., "batch_name": ..., "conn_id": ..., "round": [<clear number>, <max tries>]}`` (``KeptRun``).
  A try acts on it only when its batch and connection are the task's own.

**The round** tells a retry from a clear with facts Airflow stored, never with the DAG file's ``retries``
(which may have changed since). Airflow keeps a task instance's ``max_tries`` across its retries and sets it
anew on a clear, and counts every clear of the DAG run in its ``clear_number``: a try whose round equals the
kept one is a retry of the same round; any other is a new round, asked for by a person.

A bare run id (text) is what version 0.1 kept. It names neither batch nor connection, so it is not taken for
the task's run: a retry fails saying so, and a clear acts anew.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeGuard

from airflow_provider_ofs.run_ids import run_id_problem

#: What the store holds while a trigger, restart or rerun call is out (followed by the epoch time).
ACTING_MARKER = "ofs-call-sent-at:"
_ROUND = " round:"


@dataclass(frozen=True)
class Round:
    """A round of tries, as Airflow stored it: the DAG run's ``clear_number`` and the task's ``max_tries``."""

    clear_number: int
    max_tries: int

    @classmethod
    def of(cls, ti: Any, dag_run: Any) -> Round | None:
        """The round of the running try; ``None`` when the context lacks the task instance or the DAG run."""
        clear_number = getattr(dag_run, "clear_number", None)
        max_tries = getattr(ti, "max_tries", None)
        if not _is_count(clear_number) or not _is_count(max_tries):
            return None
        return cls(clear_number, max_tries)

    def text(self) -> str:
        return f"{self.clear_number}/{self.max_tries}"


@dataclass(frozen=True)
class KeptRun:
    """A run OFS accepted for the task: its id, the batch and connection it belongs to, and its round."""

    run_id: str
    batch_name: str
    conn_id: str
    round: Round | None = None

    def value(self) -> dict[str, Any]:
        """What the store keeps (a JSON object)."""
        kept: dict[str, Any] = {"run_id": self.run_id, "batch_name": self.batch_name, "conn_id": self.conn_id}
        if self.round is not None:
            kept["round"] = [self.round.clear_number, self.round.max_tries]
        return kept

    def foreign_to(self, batch_name: str, conn_id: str) -> str | None:
        """How the run differs from the task's batch and connection, or ``None`` when it is the task's own."""
        differences = [
            f"{what} {kept!r}, not {own!r}"
            for what, kept, own in (("batch", self.batch_name, batch_name), ("connection", self.conn_id, conn_id))
            if kept != own
        ]
        return "; ".join(differences) or None


@dataclass(frozen=True)
class CallOut:
    """An intent marker: a call was out when a try ended; ``sent_at`` is ``None`` when its time cannot be read."""

    sent_at: float | None
    round: Round | None = None


@dataclass(frozen=True)
class Unreadable:
    """A stored value that is neither a kept run nor an intent marker, and why."""

    reason: str


def intent_marker(now: float, round_: Round | None) -> str:
    """The value kept while a call is out."""
    marker = f"{ACTING_MARKER}{now:.3f}"
    return f"{marker}{_ROUND}{round_.text()}" if round_ is not None else marker


def read_kept(value: Any) -> KeptRun | CallOut | Unreadable:
    """Read what the store keeps: a run, an intent marker, or something else (and why it is not taken)."""
    if isinstance(value, str) and value.startswith(ACTING_MARKER):
        sent_at, _, round_text = value.removeprefix(ACTING_MARKER).partition(_ROUND)
        return CallOut(_epoch(sent_at), _round(round_text.split("/")))
    if isinstance(value, dict):
        run_id, batch_name, conn_id = (value.get(name) for name in ("run_id", "batch_name", "conn_id"))
        if not isinstance(batch_name, str) or not isinstance(conn_id, str):
            return Unreadable("an object without the text fields 'batch_name' and 'conn_id'")
        problem = run_id_problem(run_id)
        if problem is not None:
            return Unreadable(f"its run_id is not a run id ({problem})")
        round_ = _round(value["round"]) if "round" in value else None
        if "round" in value and round_ is None:
            return Unreadable("its round is not two whole numbers (the DAG run's clear number, the task's max tries)")
        return KeptRun(str(run_id).strip(), batch_name, conn_id, round_)
    problem = run_id_problem(value)
    if problem is None:
        return Unreadable("a bare run id, the form version 0.1 kept, which names neither batch nor connection")
    return Unreadable(f"not a run id ({problem})")


def run_id_of(value: Any) -> str:
    """The run id in a value ``read_kept`` accepted as a run (what the mixin hands back after a reconnect)."""
    return str(value["run_id"]).strip()


def _epoch(text: str) -> float | None:
    try:
        moment = float(text)
    except ValueError:
        return None
    return moment if math.isfinite(moment) and 0 < moment < 1e11 else None  # 1e11: year 5138


def _is_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _round(parts: Any) -> Round | None:
    """A round from its two stored numbers; ``None`` when they are not two counts."""
    if not isinstance(parts, (list, tuple)) or len(parts) != 2:
        return None
    if all(isinstance(part, str) and part.isdigit() for part in parts):
        parts = [int(part) for part in parts]
    return Round(*parts) if all(_is_count(part) for part in parts) else None
