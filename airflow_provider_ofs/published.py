"""What a task publishes about its OFS run: the XCom keys, what is pushed under them, and the Batch Monitor link.

Downstream tasks branch on these keys; the **OFS Batch Monitor** extra link reads the run's URL back; the
OpenLineage facet (``airflow_provider_ofs.lineage``) reads the ``RunOutcome`` kept on the task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_ofs._compat import IS_AIRFLOW_2, BaseOperatorLink

#: The id of the run the task started or watches, pushed as soon as the run exists (before waiting).
XCOM_RUN_ID_KEY = "batch_run_id"
#: The run's page in the OFS Batch Monitor, from the connection's ``monitor_url`` (``None`` without one).
XCOM_RUN_URL_KEY = "batch_run_url"
#: When the wait ends: the run's final state name (a ``RunState`` name, e.g. ``SUCCESSFUL``, ``FAILED``).
XCOM_STATE_KEY = "batch_run_state"
#: When the wait ends: the codes of the failed tasks (batch) or the run ids of failed child runs (group).
XCOM_FAILED_TASKS_KEY = "batch_failed_tasks"
#: When the wait ends: the child runs of a group, ``[{"run_id": ..., "state": ...}]`` (empty for a batch).
XCOM_CHILD_RUNS_KEY = "batch_child_runs"
#: When the wait ended with a list longer than ``MAX_LISTED``: how many entries each list left out,
#: ``{"failed_tasks": n, "child_runs": m}``; absent when nothing was left out.
XCOM_LISTS_OMITTED_KEY = "batch_lists_omitted"
#: Most failed tasks (or child runs) a task publishes in XCom and the lineage facet and names in its error;
#: the rest is counted.
MAX_LISTED = 100


@dataclass(frozen=True)
class RunOutcome:
    """How a watched run ended: what ``push_outcome`` pushes, kept on the task for the OpenLineage facet.

    Each list keeps its first ``MAX_LISTED`` entries; ``failed_tasks_omitted`` and ``children_omitted`` count
    the rest.
    """

    state: str | None
    failed_tasks: tuple[str, ...] = ()
    children: tuple[tuple[str, str], ...] = ()
    failed_tasks_omitted: int = 0
    children_omitted: int = 0

    def __post_init__(self) -> None:
        for name in ("failed_tasks", "children"):
            entries = getattr(self, name)
            if len(entries) > MAX_LISTED:
                object.__setattr__(self, name, tuple(entries[:MAX_LISTED]))
                object.__setattr__(
                    self, f"{name}_omitted", getattr(self, f"{name}_omitted") + len(entries) - MAX_LISTED
                )

    @classmethod
    def of(cls, status: Any, state: Any, failed_tasks: Sequence[str] = ()) -> RunOutcome:
        """From a ``RunStatus`` and the wait's verdict on it: that ``RunState`` and failed tasks, every child run."""
        return cls(state.name, tuple(failed_tasks), tuple(children_of(status)))

    @property
    def omitted(self) -> dict[str, int] | None:
        """How many entries each list left out, as ``XCOM_LISTS_OMITTED_KEY`` holds it; ``None`` when none were."""
        if not (self.failed_tasks_omitted or self.children_omitted):
            return None
        return {"failed_tasks": self.failed_tasks_omitted, "child_runs": self.children_omitted}


def listed(names: Sequence[str]) -> str:
    """Names for a message, comma-separated: the first ``MAX_LISTED``, then how many more there are."""
    more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
    return ", ".join(names[:MAX_LISTED]) + more


def children_of(status: Any) -> list[tuple[str, str]]:
    """A ``RunStatus``'s child runs as ``(run id, state name)`` pairs, as XCom and trigger events carry them."""
    return [(child.run_id, child.state.name) for child in status.children]


def _task_instance(task: Any, context: Any) -> Any:
    """Where ``task`` pushes its XComs: the context's task instance, or ``None`` with ``do_xcom_push`` off."""
    return context.get("ti") if task.do_xcom_push else None


def push_run(task: Any, context: Any, run_id: str, url: str | None) -> None:
    """Push the run id, and its Batch Monitor URL (``None`` when the connection has no ``monitor_url``).

    The URL's key is pushed even without one: Airflow 3 reads every task's extra link when the task ends,
    and a missing XCom logs an error there.
    """
    ti = _task_instance(task, context)
    if ti is None:
        return
    ti.xcom_push(key=XCOM_RUN_ID_KEY, value=run_id)
    ti.xcom_push(key=XCOM_RUN_URL_KEY, value=url)


def push_outcome(task: Any, context: Any, outcome: RunOutcome) -> None:
    """Push how the watched run ended (its state, the failed tasks or child runs, every child run, and how many
    were left out when a list was longer than ``MAX_LISTED``); keep it too.

    A run that succeeded is also announced as an event of its batch's asset (``asset_events.emit_run_succeeded``).
    """
    from airflow_provider_ofs.asset_events import emit_run_succeeded

    task.run_outcome = outcome
    emit_run_succeeded(task, context, outcome)
    ti = _task_instance(task, context)
    if ti is None:
        return
    ti.xcom_push(key=XCOM_STATE_KEY, value=outcome.state)
    ti.xcom_push(key=XCOM_FAILED_TASKS_KEY, value=list(outcome.failed_tasks))
    ti.xcom_push(
        key=XCOM_CHILD_RUNS_KEY, value=[{"run_id": run_id, "state": state} for run_id, state in outcome.children]
    )
    if outcome.omitted is not None:
        ti.xcom_push(key=XCOM_LISTS_OMITTED_KEY, value=outcome.omitted)


class OFSBatchMonitorLink(BaseOperatorLink):  # type: ignore[misc]
    """The **OFS Batch Monitor** button of a task: the run's page, as the task pushed it (``batch_run_url``)."""

    name = "OFS Batch Monitor"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        """The URL the task pushed, or an empty string (no button) when the connection has no ``monitor_url``."""
        from airflow_provider_ofs._compat import XCom

        if not IS_AIRFLOW_2 and getattr(operator, "watched_run_id", "") is None:
            # Airflow 3 asks the task itself for its links as it ends: one that published no run has no XCom to
            # read, and Airflow would log its absence as an error in the task's log.
            return ""
        url = XCom.get_value(key=XCOM_RUN_URL_KEY, ti_key=ti_key)
        return url if isinstance(url, str) else ""
