"""The one place that knows which Airflow version provides what (2.11 and 3.x)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseHook,
    BaseOperator,
    BaseOperatorLink,
    BaseSensorOperator,
    Context,
    ResumableJobMixin,
    conf,
    mask_secret,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import XCom
    from airflow.triggers.base import BaseTrigger, TriggerEvent

try:  # Airflow 3.x task SDK: masks without blocking the event loop
    from airflow.sdk.log import amask_secret
except ImportError:  # Airflow 2.11: masking is local to the process, so the sync call is fine

    async def amask_secret(secret: Any, name: str | None = None) -> None:  # type: ignore[misc]
        mask_secret(secret, name)


def __getattr__(name: str) -> Any:
    """``BaseTrigger``, ``TriggerEvent`` and ``XCom``, loaded on first use.

    ``airflow.triggers.base`` (the same module on 2.11 and 3.x) costs about 10 ms to import and is only
    needed where a trigger runs, not where a DAG file that uses an operator is parsed.
    """
    if name in ("BaseTrigger", "TriggerEvent"):
        from airflow.triggers import base

        return getattr(base, name)
    if name == "XCom":  # read where a link is resolved, never where a DAG file is parsed
        from airflow.providers.common.compat.sdk import XCom

        return XCom
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def airflow_version() -> tuple[int, int]:
    """The running Airflow's major and minor version."""
    from airflow import __version__

    major, minor = __version__.split(".")[:2]
    return int(major), int(minor)


def default_deferrable() -> bool:
    """Airflow's ``[operators] default_deferrable``, the default of every ``deferrable`` parameter."""
    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


#: The default of ``[ofs] deferral_settle_seconds``: about five times the scheduler's lag seen on LocalExecutor
#: under load (6-7 s) before it hears that a deferring task's process exited.
DEFERRAL_SETTLE_SECONDS = 30.0


def deferral_settle_seconds() -> float:
    """Airflow's ``[ofs] deferral_settle_seconds``: the least time from a deferral to the trigger's first look.

    See ``watching.first_trigger_look``; ``DEFERRAL_SETTLE_SECONDS`` by default.
    """
    return max(0.0, float(conf.getfloat("ofs", "deferral_settle_seconds", fallback=DEFERRAL_SETTLE_SECONDS)))


def reads_stored_connections() -> bool:
    """Whether this process can read connections stored in Airflow's database.

    On Airflow 3 only a task or the triggerer can, through their supervisor's channel to the API server (or, in
    3.0's ``airflow dags test``, a task run in-process the Airflow 2 way); a plain Python script cannot. On 2.11
    every process reads the database itself. A task is known by the context Airflow exports to its environment.
    """
    if IS_AIRFLOW_2 or "AIRFLOW_CTX_DAG_ID" in os.environ:
        return True
    from airflow.sdk.execution_time import task_runner

    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def is_airflow_retry(ti: Any, retries: int | None) -> bool:
    """Whether this try is Airflow's automatic retry after a failure, not the first try of a round.

    A round starts with a new DAG run or with a clear by a person. Clearing sets ``max_tries`` to the try
    number plus ``retries`` (2.11 and 3.x alike), so the first try of each round is number ``max_tries -
    retries + 1``, as Airflow itself counts it. Without a task instance to ask, it answers ``True``: then
    a stored run is reconnected to, never started twice. ``retries`` is the DAG file's value now, which may
    have changed since the round began: where a kept run records its round, ``kept_run.Round`` decides.
    """
    try_number = getattr(ti, "try_number", None)
    max_tries = getattr(ti, "max_tries", None)
    if not isinstance(try_number, int) or not isinstance(max_tries, int) or max_tries < 0:
        return True
    return try_number > max_tries - (retries or 0) + 1


HAS_TASK_STATE_STORE = airflow_version() >= (3, 3)
IS_AIRFLOW_2 = airflow_version() < (3, 0)

if IS_AIRFLOW_2:  # assets were datasets before Airflow 3
    from airflow.datasets import Dataset as Asset
    from airflow.datasets import DatasetAlias as AssetAlias
else:
    from airflow.sdk import Asset, AssetAlias

__all__ = [
    "HAS_TASK_STATE_STORE",
    "IS_AIRFLOW_2",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "Asset",
    "AssetAlias",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "Context",
    "ResumableJobMixin",
    "TriggerEvent",
    "XCom",
    "amask_secret",
    "conf",
    "default_deferrable",
    "is_airflow_retry",
    "mask_secret",
]
