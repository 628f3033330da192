"""The queue of the provider's tasks: ``[ofs] queue`` for every OFS operator and sensor that names none.

At a bank OFS sits in a network zone only some Airflow hosts may reach. A task's ``queue`` routes its worker
side (CeleryExecutor) and, with ``[triggerer] queues_enabled`` (Airflow 3.2+), its trigger; set once in the
configuration, every OFS task goes there, and a DAG author cannot forget one. A task's own ``queue``, or one
in its ``default_args`` (the DAG's or a task group's), still wins.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_ofs._compat import conf


def configured_queue() -> str | None:
    """Airflow's ``[ofs] queue``; ``None`` when it is not set (Airflow's ``[operators] default_queue`` applies)."""
    return conf.get("ofs", "queue", fallback="").strip() or None


def with_ofs_queue(kwargs: dict[str, Any]) -> dict[str, Any]:
    """An OFS operator's ``__init__`` arguments with ``queue`` set from ``[ofs] queue`` when nothing named one.

    Airflow hands ``__init__`` the merged ``default_args`` of the DAG, its task groups and the task.
    """
    queue = configured_queue()
    if queue and "queue" not in kwargs and "queue" not in (kwargs.get("default_args") or {}):
        kwargs["queue"] = queue
    return kwargs


def partial_with_ofs_queue(partial: Any, given: dict[str, Any]) -> Any:
    """A mapped OFS task (``partial``'s result, made from the arguments ``given``) on ``[ofs] queue`` when neither
    ``given`` nor the ``default_args`` of its DAG, its task group or its own named a queue."""
    queue = configured_queue()
    if not queue or "queue" in given:
        return partial
    defaults = [given.get("default_args")]
    defaults += [getattr(partial.kwargs.get(owner), "default_args", None) for owner in ("dag", "task_group")]
    if not any("queue" in (default or {}) for default in defaults):
        partial.kwargs["queue"] = queue
    return partial
