"""What an action operator keeps in Airflow's task-state store between tries, and how a try reads it (pure).

Under the operator's ``external_id_key`` the store holds one of:

- while a trigger, restart or rerun call is out, the intent marker ``ofs-call-sent-at:<epoch seconds>``
  (``CallOut``);
- once OFS accepted the call, what identifies the run: ``{"run_id": ..., "batch_name": ..., "conn_id": ...}``
  (``KeptRun``). A try acts on it only when its batch and connection are the task's own.

A bare run id (text) is what earlier versions kept. It names no batch or connection: it is read as a run of
the task's own batch on its own connection (only this task instance's tries write its store), once it
passes the run id rule (``protocol.run_id_problem``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: What the store holds while a trigger, restart or rerun call is out (followed by the epoch time).
ACTING_MARKER = "ofs-call-sent-at:"


@dataclass(frozen=True)
class KeptRun:
    """A run OFS accepted for the task: its id, and the batch and connection it belongs to (``None``: not kept)."""

    run_id: str
    batch_name: str | None = None
    conn_id: str | None = None

    def value(self) -> dict[str, Any]:
        """What the store keeps (a JSON object)."""
        return {"run_id": self.run_id, "batch_name": self.batch_name or "", "conn_id": self.conn_id or ""}

    def foreign_to(self, batch_name: str, conn_id: str) -> str | None:
        """How the run differs from the task's batch and connection, or ``None`` when it is the task's own."""
        differences = [
            f"{what} {kept!r}, not {own!r}"
            for what, kept, own in (("batch", self.batch_name, batch_name), ("connection", self.conn_id, conn_id))
            if kept is not None and kept != own
        ]
        return "; ".join(differences) or None


@dataclass(frozen=True)
class CallOut:
    """An intent marker: a call was out when a try ended; ``sent_at`` is ``None`` when its time cannot be read."""

    sent_at: float | None


@dataclass(frozen=True)
class Unreadable:
    """A stored value that is neither a kept run nor an intent marker, and why."""

    reason: str


def intent_marker(now: float) -> str:
    """The value kept while a call is out."""
    return f"{ACTING_MARKER}{now:.3f}"


def read_kept(value: Any) -> KeptRun | CallOut | Unreadable:
    """Read what the store keeps (this version's form, an intent marker, or an earlier version's bare run id)."""
    from airflow_provider_ofs.protocol import run_id_problem  # the run id rule; loaded where a task runs

    if isinstance(value, str) and value.startswith(ACTING_MARKER):
        return CallOut(_epoch(value.removeprefix(ACTING_MARKER)))
    if isinstance(value, dict):
        run_id, batch_name, conn_id = (value.get(name) for name in ("run_id", "batch_name", "conn_id"))
        if not isinstance(batch_name, str) or not isinstance(conn_id, str):
            return Unreadable("an object without the text fields 'batch_name' and 'conn_id'")
        problem = run_id_problem(run_id)
        if problem is not None:
            return Unreadable(f"its run_id is not a run id ({problem})")
        return KeptRun(str(run_id).strip(), batch_name, conn_id)
    problem = run_id_problem(value)
    if problem is not None:
        return Unreadable(f"not a run id ({problem})")
    return KeptRun(str(value).strip())


def run_id_of(value: Any) -> str:
    """The run id in a value ``read_kept`` accepted as a run (what the mixin hands back after a reconnect)."""
    return str(value["run_id"] if isinstance(value, dict) else value).strip()


def _epoch(text: str) -> float | None:
    try:
        moment = float(text)
    except ValueError:
        return None
    return moment if math.isfinite(moment) and 0 < moment < 1e11 else None  # 1e11: year 5138
