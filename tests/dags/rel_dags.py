"""DAGs of the reliability tests (tests/reliability): a deferred trigger across a triggerer restart, and secrets.

- ``rel_triggerer_restart``: one deferrable ``OFSTriggerBatchOperator`` whose run is held until the
  test releases it, so the task stays deferred while the test kills and restarts the triggerer.
- ``rel_secrets``: every path that touches a token or a password (trigger, deferred wait with token
  refreshes, waiting on the worker, a failing run, a sensor, an interrupt), for the log scan.

The simulator serving them uses ``tests.reliability.catalogues.DAGS_CATALOGUE``.
"""

from __future__ import annotations

import datetime

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ofs.operators.batch import OFSInterruptBatchOperator, OFSTriggerBatchOperator
from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor

START = datetime.datetime(2026, 1, 1)
RUN_ID = "{{{{ ti.xcom_pull(task_ids='{}', key='batch_run_id') }}}}"

with DAG("rel_triggerer_restart", start_date=START, schedule="@once", catchup=False):
    OFSTriggerBatchOperator(
        task_id="held_until_released",
        batch_name="REL_HELD",
        held_tasks=["REL_RELEASE_ME"],
        deferrable=True,
        poll_interval=1.0,
    )

with DAG("rel_secrets", start_date=START, schedule=None, catchup=False):
    OFSTriggerBatchOperator(task_id="deferred", batch_name="REL_STEADY", deferrable=True, poll_interval=0.3)
    OFSTriggerBatchOperator(task_id="on_the_worker", batch_name="REL_STEADY", deferrable=False, poll_interval=0.3)
    OFSTriggerBatchOperator(task_id="fails", batch_name="REL_FAILS", deferrable=True, poll_interval=0.3)
    start_long = OFSTriggerBatchOperator(task_id="start_long", batch_name="REL_LONG", wait_for_completion=False)
    sense_long = OFSBatchRunSensor(
        task_id="sense_long", batch_run_id=RUN_ID.format("start_long"), deferrable=True, poll_interval=0.3, timeout=2
    )
    interrupt_long = OFSInterruptBatchOperator(
        task_id="interrupt_long",
        batch_name="REL_LONG",
        batch_run_id=RUN_ID.format("start_long"),
        trigger_rule="all_done",
    )
    start_long >> sense_long >> interrupt_long
