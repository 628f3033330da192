"""The one place that knows which Airflow version provides what (2.11 and 3.x)."""

from __future__ import annotations

from typing import Any

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
from airflow.triggers.base import BaseTrigger, TriggerEvent  # the same module on 2.11 and 3.x

try:  # Airflow 3.x task SDK: masks without blocking the event loop
    from airflow.sdk.log import amask_secret
except ImportError:  # Airflow 2.11: masking is local to the process, so the sync call is fine

    async def amask_secret(secret: Any, name: str | None = None) -> None:  # type: ignore[misc]
        mask_secret(secret, name)


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
