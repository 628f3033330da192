"""The DAG of the network-zone test (tests/reliability/test_network_zones.py), and its simulator catalogue.

OFS is reachable from the ``ofs`` queue's worker and triggerer only. The test sets ``[ofs] queue = ofs``, so
every OFS task here goes there without naming a queue; the other tasks keep the default queue.

- ``load`` maps a deferrable trigger operator over four batches;
- ``restarted``: its batch fails once; with ``max_restarts=1`` the task resumes on the worker, restarts the
  run and defers again;
- ``fire`` starts a batch without waiting, ``watch`` (a deferrable sensor) waits for it;
- ``pause`` (the standard provider's deferrable ``TimeDeltaSensor``, default queue) and ``summary`` (a Python
  task, default queue): work outside the zone, on the default triggerer and worker.
"""

from __future__ import annotations

import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor

from airflow_provider_ofs.operators.batch import OFSTriggerBatchOperator
from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor

DAG_ID = "zone_batches"
LOADED = [f"ZONE_{number}" for number in range(1, 5)]
RESTARTED = "ZONE_FAILS_ONCE"
WATCHED = "ZONE_WATCHED"
POLL_INTERVAL = 2.0


def catalogue() -> dict[str, Any]:
    """Runs of about a minute at speed 1: still going while the test keeps the zone's triggerer down."""
    batches: dict[str, Any] = {
        name: {"tasks": [{"code": "ZONE_LOAD", "seconds": 60 + number * 5, "outcome": "success"}]}
        for number, name in enumerate(LOADED)
    }
    batches[RESTARTED] = {"tasks": [{"code": "ZONE_BREAKS", "seconds": 40, "outcome": "fail_once"}]}
    batches[WATCHED] = {"tasks": [{"code": "ZONE_LOAD", "seconds": 70, "outcome": "success"}]}
    return {"batches": batches}


@task
def summary(loaded: list[str], restarted: str, fired: str) -> int:
    """Runs on the default queue: the OFS runs the tasks returned, counted."""
    return len([*loaded, restarted, fired])


with DAG(
    DAG_ID,
    start_date=datetime.datetime(2026, 1, 1),
    schedule="@once",
    catchup=False,
    max_active_tasks=16,
    default_args={"retries": 2, "retry_delay": datetime.timedelta(seconds=3)},
):
    loaded = OFSTriggerBatchOperator.partial(task_id="load", deferrable=True, poll_interval=POLL_INTERVAL).expand(
        batch_name=LOADED
    )
    restarted = OFSTriggerBatchOperator(
        task_id="restarted", batch_name=RESTARTED, deferrable=True, max_restarts=1, poll_interval=POLL_INTERVAL
    )
    fire = OFSTriggerBatchOperator(task_id="fire", batch_name=WATCHED, wait_for_completion=False)
    watch = OFSBatchRunSensor(
        task_id="watch", batch_run_id=fire.output, batch_name=WATCHED, deferrable=True, poll_interval=POLL_INTERVAL
    )
    pause = TimeDeltaSensor(task_id="pause", delta=datetime.timedelta(seconds=5), deferrable=True)
    [pause, watch] >> summary(loaded.output, restarted.output, fire.output)
