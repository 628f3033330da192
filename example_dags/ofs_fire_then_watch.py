"""
### Fire, then watch: start an OFS batch without waiting, and sense the parts you depend on

1. **start_data_load** triggers `OFS_DAILY_DATA_LOAD` and ends as soon as OFS has accepted it
   (`wait_for_completion=False`); its return value is the OFS run id.
2. **wait_for_gl_load** watches only the task `LOAD_GL_DATA` of that run (`tasks=[...]`), so the general
   ledger extract can start while the rest of the batch is still loading.
3. **wait_for_data_load** watches the whole run; the data-quality report waits for it.

Both sensors are deferrable: while they wait, they occupy the triggerer, not a worker slot. A sensor never
interrupts the run: it did not start it.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_ofs.operators.batch import MIS_DATE_OF_RUN, OFSTriggerBatchOperator
from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor

# Seconds between status calls: a minute suits real batches; the demo and the tests shrink it.
POLL_INTERVAL = float(os.environ.get("OFS_EXAMPLE_POLL_INTERVAL", "60"))

with DAG(
    dag_id="ofs_fire_then_watch",
    description="Trigger an OFS batch without waiting, then watch one task and the whole run with sensors",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["ofs", "example"],
) as dag:
    start_data_load = OFSTriggerBatchOperator(
        task_id="start_data_load",
        batch_name="OFS_DAILY_DATA_LOAD",
        mis_date=MIS_DATE_OF_RUN,
        wait_for_completion=False,
    )

    wait_for_gl_load = OFSBatchRunSensor(
        task_id="wait_for_gl_load",
        batch_run_id=start_data_load.output,
        tasks=["LOAD_GL_DATA"],
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=2 * 60 * 60,  # seconds
    )

    wait_for_data_load = OFSBatchRunSensor(
        task_id="wait_for_data_load",
        batch_run_id=start_data_load.output,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=4 * 60 * 60,  # seconds
    )

    @task
    def extract_general_ledger(batch_run_id: str) -> str:
        """Start the general ledger extract for the finance data mart (stands in for another pipeline)."""
        print(f"General ledger loaded by OFS run {batch_run_id}; starting the finance data mart extract")
        return batch_run_id

    @task
    def publish_data_quality_report(batch_run_id: str) -> str:
        """Publish the data-quality report once the whole load has finished."""
        print(f"OFS run {batch_run_id} finished; publishing the data-quality report")
        return batch_run_id

    wait_for_gl_load >> extract_general_ledger(start_data_load.output)
    wait_for_data_load >> publish_data_quality_report(start_data_load.output)
