"""The one place that knows which Airflow version provides what (2.11 and 3.x)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseHook,
    BaseOperator,
    BaseSensorOperator,
    Context,
    ResumableJobMixin,
    conf,
    mask_secret,
)

if TYPE_CHECKING:
    from airflow.triggers.base import BaseTrigger, TriggerEvent

try:  # Airflow 3.x task SDK: masks without blocking the event loop
    from airflow.sdk.log import amask_secret
except ImportError:  # Airflow 2.11: masking is local to the process, so the sync call is fine

    async def amask_secret(secret: Any, name: str | None = None) -> None:  # type: ignore[misc]
        mask_secret(secret, name)


def __getattr__(name: str) -> Any:
    """``BaseTrigger`` and ``TriggerEvent``, loaded on first use.

    ``airflow.triggers.base`` (the same module on 2.11 and 3.x) costs about 10 ms to import and is only
    needed where a trigger runs, not where a DAG file that uses an operator is parsed.
    """
    if name in ("BaseTrigger", "TriggerEvent"):
        from airflow.triggers import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def airflow_version() -> tuple[int, int]:
    """The running Airflow's major and minor version."""
    from airflow import __version__

    major, minor = __version__.split(".")[:2]
    return int(major), int(minor)


def default_deferrable() -> bool:
    """Airflow's ``[operators] default_deferrable``, the default of every ``deferrable`` parameter."""
    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


HAS_TASK_STATE_STORE = airflow_version() >= (3, 3)

__all__ = [
    "HAS_TASK_STATE_STORE",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "BaseTrigger",
    "Context",
    "ResumableJobMixin",
    "TriggerEvent",
    "amask_secret",
    "default_deferrable",
    "mask_secret",
]
