"""``[ofs] queue``: every OFS operator and sensor that names no queue (itself, or in the default_args of its
DAG, task group or own) lands on it, mapped tasks included; other operators keep Airflow's default queue.

Where the queue then takes the tasks (Celery workers, and triggerers with ``[triggerer] queues_enabled``)
is shown by ``make test-topology`` (tests/reliability/test_network_zones.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ofs._compat import BaseOperator, conf
from airflow_provider_ofs.operators.batch import (
    OFSInterruptBatchOperator,
    OFSRestartBatchOperator,
    OFSTriggerBatchOperator,
)
from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor

DEFAULT_QUEUE = conf.get("operators", "default_queue")


def task_group(**kwargs: Any) -> Any:
    try:
        from airflow.sdk import TaskGroup
    except ImportError:  # Airflow 2.11
        from airflow.utils.task_group import TaskGroup  # type: ignore[no-redef]
    return TaskGroup(**kwargs)


@pytest.fixture
def ofs_queue(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW__OFS__QUEUE", "ofs")
    return "ofs"


def test_every_ofs_task_that_names_no_queue_goes_to_the_configured_one(ofs_queue: str) -> None:
    with DAG("zone", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        OFSTriggerBatchOperator(task_id="trigger", batch_name="B")
        OFSRestartBatchOperator(task_id="restart", batch_name="B", batch_run_id="R1")
        OFSInterruptBatchOperator(task_id="interrupt", batch_name="B", batch_run_id="R1")
        OFSBatchRunSensor(task_id="sensor", batch_run_id="R1")
        mapped = OFSTriggerBatchOperator.partial(task_id="mapped").expand(batch_name=["A", "B"])
        BaseOperator(task_id="not_ofs")

    queues = {task.task_id: task.queue for task in dag.tasks}

    assert queues == {
        "trigger": ofs_queue,
        "restart": ofs_queue,
        "interrupt": ofs_queue,
        "sensor": ofs_queue,
        "mapped": ofs_queue,
        "not_ofs": DEFAULT_QUEUE,
    }
    assert mapped.partial_kwargs["queue"] == ofs_queue  # what the scheduler routes a mapped task by


def test_a_queue_the_task_or_its_default_args_name_wins(ofs_queue: str) -> None:
    with DAG("zone", schedule=None, start_date=datetime(2026, 1, 1), default_args={"queue": "dag_queue"}) as dag:
        OFSTriggerBatchOperator(task_id="from_the_dag", batch_name="B")
        OFSTriggerBatchOperator(task_id="its_own", batch_name="B", queue="own_queue")
        OFSTriggerBatchOperator.partial(task_id="mapped_from_the_dag").expand(batch_name=["A"])
        OFSTriggerBatchOperator.partial(task_id="mapped_own", queue="own_queue").expand(batch_name=["A"])
    with (
        DAG("zone_groups", schedule=None, start_date=datetime(2026, 1, 1)) as grouped,
        task_group(group_id="g", default_args={"queue": "group_queue"}),
    ):
        OFSTriggerBatchOperator(task_id="from_the_group", batch_name="B")
        OFSTriggerBatchOperator.partial(task_id="mapped").expand(batch_name=["A"])

    queues = {task.task_id: task.queue for task in [*dag.tasks, *grouped.tasks]}

    assert queues == {
        "from_the_dag": "dag_queue",
        "its_own": "own_queue",
        "mapped_from_the_dag": "dag_queue",
        "mapped_own": "own_queue",
        "g.from_the_group": "group_queue",
        "g.mapped": "group_queue",
    }


def test_without_the_setting_ofs_tasks_keep_airflows_default_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__OFS__QUEUE", raising=False)
    with DAG("no_zone", schedule=None, start_date=datetime(2026, 1, 1)):
        task = OFSTriggerBatchOperator(task_id="trigger", batch_name="B")

    assert task.queue == DEFAULT_QUEUE
