"""What an OFS run id is: the one rule for every run id the provider takes, and the MIS date some of them name.

Pure and small: loaded where DAG files are parsed (operator and sensor arguments), as where a task runs
(ESI's answers, the task-state store, asset events).
"""

from __future__ import annotations

import re
from typing import Any

#: Longest run id believed. OFS's run ids are a few dozen characters (batch, MIS date, counters); a longer
#: ``batchRunId`` would go into XComs, logs and the lineage facet as it is.
MAX_RUN_ID_LENGTH = 256


def run_id_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a run id, or ``None`` when it can: the one rule, for answers and the task-state store.

    A run id is text: one line of printable characters (no line break, control character or lone surrogate),
    at most ``MAX_RUN_ID_LENGTH`` long once the spaces around it are stripped, and not blank.
    """
    if value is None:
        return "there is none"
    if not isinstance(value, str):
        return f"it is {type(value).__name__}, not text"
    text = value.strip()
    if not text:
        return "it is blank"
    if len(text) > MAX_RUN_ID_LENGTH:
        return f"it is {len(text)} characters long, more than {MAX_RUN_ID_LENGTH}"
    if not text.isprintable():
        return "it holds a line break, a control character or a lone surrogate"
    return None


def require_run_id(name: str, value: Any) -> str:
    """``value`` stripped, when it is a run id; otherwise a ``ValueError`` naming the argument and why."""
    problem = run_id_problem(value)
    if problem is not None:
        shown = f"{value[:120]!a}{'...' if len(value) > 120 else ''}" if isinstance(value, str) else repr(value)
        raise ValueError(f"{name} must be an OFS run id, and {shown} is not: {problem}")
    return str(value).strip()


#: What follows ``<batch>_`` in an OFS run id: the MIS date, the start time in epoch milliseconds, and a count.
_AFTER_THE_BATCH = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})_[0-9]+_[0-9]+")


def mis_date_of_run(run_id: str, batch_name: str) -> str | None:
    """The MIS date in a run id of ``batch_name`` of OFS's form, ``<batch>_<MIS date>_<millis>_<n>``; else ``None``.

    ESI names no run's MIS date or batch in its answers; its run ids do, in every sample of the guide.
    """
    prefix = f"{batch_name}_"
    found = _AFTER_THE_BATCH.fullmatch(run_id.removeprefix(prefix)) if run_id.startswith(prefix) else None
    return found.group(1) if found else None
