"""OFS batches as assets under a real scheduler (test_assets_under_a_scheduler.py), on 2.11 and 3.x.

- ``as_producer`` triggers ``AS_OK`` for a MIS date (deferred); ``as_consumer``, scheduled on that batch's
  asset, writes the run id and MIS date of the event that triggered it to ``$OFS_ASSET_TEST_OUT``.
- ``as_failing_producer`` runs ``AS_FAIL``, which always fails; ``as_fail_consumer`` must never run.
- ``as_mapped_producer`` waits on the worker for three batches of one mapped task.
- ``as_skip``: two DAG runs (catch-up, one at a time) for the same MIS date with ``skip``: one OFS run.
- ``as_handoff_consumer`` (3.x): scheduled on ``AS_HANDOFF``, whose events the test posts through the REST
  API for a run it started itself; the sensor watches the run the event names and announces nothing.
- ``as_forged`` (3.x, triggered by the test): ``skip`` for ``AS_FORGED``, after the test posted events that
  claim successes OFS does not confirm; it must trigger.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_ofs.assets import (
    TRIGGERING_BATCH_NAME,
    TRIGGERING_BATCH_RUN_ID,
    TRIGGERING_MIS_DATE,
    ofs_batch_asset,
)
from airflow_provider_ofs.operators.batch import OFSTriggerBatchOperator
from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor

START = datetime.datetime(2026, 1, 1)
MIS_DATE = "2026-03-31"


@task
def record(batch_run_id: str, mis_date: str, batch_name: str) -> None:
    """Append what the triggering event said to the test's output file."""
    line = json.dumps({"batchRunId": batch_run_id, "misDate": mis_date, "batchName": batch_name})
    with Path(os.environ["OFS_ASSET_TEST_OUT"]).open("a") as out:
        out.write(line + "\n")


with DAG("as_producer", start_date=START, schedule="@once", catchup=False):
    OFSTriggerBatchOperator(task_id="eod", batch_name="AS_OK", mis_date=MIS_DATE, deferrable=True, poll_interval=0.5)

with DAG("as_consumer", start_date=START, schedule=[ofs_batch_asset("AS_OK")], catchup=False):
    record(TRIGGERING_BATCH_RUN_ID, TRIGGERING_MIS_DATE, TRIGGERING_BATCH_NAME)

with DAG("as_failing_producer", start_date=START, schedule="@once", catchup=False):
    OFSTriggerBatchOperator(task_id="eod", batch_name="AS_FAIL", mis_date=MIS_DATE, poll_interval=0.5)

with DAG("as_fail_consumer", start_date=START, schedule=[ofs_batch_asset("AS_FAIL")], catchup=False):
    record(TRIGGERING_BATCH_RUN_ID, TRIGGERING_MIS_DATE, TRIGGERING_BATCH_NAME)

with DAG("as_mapped_producer", start_date=START, schedule="@once", catchup=False):
    OFSTriggerBatchOperator.partial(task_id="load", poll_interval=0.5).expand(batch_name=["AS_M1", "AS_M2", "AS_M3"])

with DAG(
    "as_skip",
    start_date=START,
    end_date=START + datetime.timedelta(days=1),
    schedule="@daily",
    catchup=True,
    max_active_runs=1,
):
    OFSTriggerBatchOperator(
        task_id="eod",
        batch_name="AS_SKIP",
        mis_date=MIS_DATE,
        if_succeeded_for_mis_date="skip",
        poll_interval=0.5,
    )

handoff: dict[str, Any] = {"schedule": [ofs_batch_asset("AS_HANDOFF")], "start_date": START, "catchup": False}
with DAG("as_handoff_consumer", **handoff):
    OFSBatchRunSensor(
        task_id="watch",
        batch_run_id=TRIGGERING_BATCH_RUN_ID,
        batch_name=TRIGGERING_BATCH_NAME,
        poll_interval=0.5,  # poke mode: a reschedule every half second meets Airflow 3.3's stale-success race
    )

with DAG("as_forged", start_date=START, schedule=None, catchup=False):
    OFSTriggerBatchOperator(
        task_id="eod", batch_name="AS_FORGED", mis_date=MIS_DATE, if_succeeded_for_mis_date="skip", poll_interval=0.5
    )
