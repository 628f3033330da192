"""The DAG of the distributed-topology test (tests/reliability/test_topology.py), and its simulator catalogue.

``topo_mapped_batches`` maps a deferrable ``OFSTriggerBatchOperator`` over 42 batches (40 succeed, 2
fail: a retry restarts the failed run, which fails again), and beside it triggers a batch group and
fires a batch that a deferrable ``OFSBatchRunSensor`` watches. Every task has ``retries``: the test
kills a Celery worker under some of them, and a retry must reconnect to the run, never trigger anew.
"""

from __future__ import annotations

import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ofs.operators.batch import OFSTriggerBatchOperator
from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor

DAG_ID = "topo_mapped_batches"
SUCCEEDING_BATCHES = [f"TOPO_{number:02d}" for number in range(1, 41)]
FAILING_BATCHES = ["TOPO_FAILS_1", "TOPO_FAILS_2"]
#: What ``run_batch`` maps over: ``map_index`` is the position in this list.
MAPPED_BATCHES = SUCCEEDING_BATCHES + FAILING_BATCHES
GROUP = "TOPO_GROUP"
WATCHED_BATCH = "TOPO_WATCHED"
POLL_INTERVAL = 1.5
RETRIES = 2


def catalogue() -> dict[str, Any]:
    """The simulator catalogue of this DAG at speed 1: runs of 45 to 80 s, so they are deferred for a while."""
    batches: dict[str, Any] = {
        name: {
            "tasks": [
                {"code": "TOPO_LOAD", "seconds": 20 + (number % 4) * 5, "outcome": "success"},
                {"code": "TOPO_PUBLISH", "seconds": 25 + (number % 5) * 5, "outcome": "success"},
            ]
        }
        for number, name in enumerate(SUCCEEDING_BATCHES, 1)
    }
    for name in FAILING_BATCHES:
        batches[name] = {
            "tasks": [
                {"code": "TOPO_LOAD", "seconds": 5, "outcome": "success"},
                {"code": "TOPO_BREAKS", "seconds": 5, "outcome": "fail"},
            ]
        }
    batches["TOPO_GROUP_LOAD"] = {"tasks": [{"code": "TOPO_LOAD", "seconds": 20, "outcome": "success"}]}
    batches["TOPO_GROUP_CALC"] = {"tasks": [{"code": "TOPO_CALC", "seconds": 20, "outcome": "success"}]}
    batches[WATCHED_BATCH] = {"tasks": [{"code": "TOPO_LOAD", "seconds": 45, "outcome": "success"}]}
    return {"batches": batches, "groups": {GROUP: {"batches": ["TOPO_GROUP_LOAD", "TOPO_GROUP_CALC"]}}}


with DAG(
    DAG_ID,
    start_date=datetime.datetime(2026, 1, 1),
    schedule="@once",
    catchup=False,
    max_active_tasks=64,
    default_args={"retries": RETRIES, "retry_delay": datetime.timedelta(seconds=3)},
):
    OFSTriggerBatchOperator.partial(
        task_id="run_batch", deferrable=True, poll_interval=POLL_INTERVAL, restart_on_retry=True
    ).expand(batch_name=MAPPED_BATCHES)

    OFSTriggerBatchOperator(
        task_id="run_group", batch_name=GROUP, batch_type="group", deferrable=True, poll_interval=POLL_INTERVAL
    )

    fire_watched = OFSTriggerBatchOperator(task_id="fire_watched", batch_name=WATCHED_BATCH, wait_for_completion=False)
    fire_watched >> OFSBatchRunSensor(
        task_id="watch_watched", batch_run_id=fire_watched.output, deferrable=True, poll_interval=POLL_INTERVAL
    )
