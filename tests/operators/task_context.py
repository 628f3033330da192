"""Stand-ins for what a task's context holds, for operators called directly: the task instance's try
counters and the task-state store (the real ones are exercised in the real-Airflow tests)."""

from __future__ import annotations

from typing import Any


class TaskStateStore:
    """The ``get``/``set`` of ``context["task_state_store"]``, kept in a dict."""

    def __init__(self, **values: Any) -> None:
        self.values = dict(values)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        assert value is not None, "Airflow's store refuses None"
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


class TaskInstance:
    """The try counters of ``context["ti"]`` that tell a retry from a clear (see ``is_airflow_retry``)."""

    stats_tags: dict[str, str] = {}

    def __init__(self, try_number: int, max_tries: int) -> None:
        self.try_number = try_number
        self.max_tries = max_tries
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        """Keep what the operator publishes, the last value of each key."""
        self.xcoms[key] = value


RETRY = TaskInstance(try_number=2, max_tries=2)  # retries=2: the second try of the first round
CLEARED = TaskInstance(try_number=2, max_tries=3)  # retries=2, cleared after try 1: max_tries = 1 + 2
