"""
### End-of-day OFS batch group, then hand-off to regulatory reporting

1. **run_eod_group** triggers the batch group `OFS_EOD_GROUP` (data load, funds transfer pricing,
   regulatory capital) for the MIS date of the DAG run. `group_params` gives each batch of the group its
   own parameters; `mis_date` fills `$FICMISDATE$` in every one of them. When the group run fails, it is
   restarted once (`max_restarts=1`): OFS runs again only the batches and tasks that did not succeed.
2. **publish_to_reporting** runs in another system's world: it receives the OFS run id (the trigger
   operator's return value), reads the final state of each child batch run, and hands a manifest to the
   regulatory reporting platform (here it is logged and returned as XCom).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_ofs.operators.batch import MIS_DATE_OF_RUN, OFSTriggerBatchOperator

# Seconds between status calls: a minute suits real batches; the demo and the tests shrink it.
POLL_INTERVAL = float(os.environ.get("OFS_EXAMPLE_POLL_INTERVAL", "60"))
# The end-of-day rate curve of the run's date (MIS_DATE_OF_RUN's date, without dashes).
RATE_CURVE = "EOD_{{ (dag_run.logical_date or dag_run.run_after).strftime('%Y%m%d') }}"

with DAG(
    dag_id="ofs_eod_group_to_reporting",
    description="OFS end-of-day batch group, then a reporting hand-off that uses the OFS run id",
    doc_md=__doc__,
    schedule="30 22 * * 1-5",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["ofs", "example"],
) as dag:
    run_eod_group = OFSTriggerBatchOperator(
        task_id="run_eod_group",
        batch_name="OFS_EOD_GROUP",
        batch_type="group",
        mis_date=MIS_DATE_OF_RUN,
        group_params={
            "OFS_DAILY_DATA_LOAD": {"taskRuntimeParams": {"LOAD_GL_DATA": {"SOURCE_SYSTEM": "GL_PROD"}}},
            "OFS_FTP_PROCESS": {"batchParams": {"RATE_CURVE": RATE_CURVE}},
            "OFS_REG_CAPITAL_CALC": {"batchParams": {"REPORTING_BASIS": "BASEL_III"}},
        },
        max_restarts=1,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=6),
    )

    @task
    def publish_to_reporting(batch_run_id: str, mis_date: str) -> dict[str, Any]:
        """Build the hand-off manifest for regulatory reporting from the finished OFS group run."""
        from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

        status = OFSSchedulerHook().get_status(batch_run_id)
        manifest = {
            "mis_date": mis_date,
            "ofs_run_id": status.run_id,
            "ofs_state": status.state.name,
            "batch_runs": {child.run_id: child.state.name for child in status.children},
        }
        print(f"Handing OFS results to regulatory reporting: {manifest}")
        return manifest

    publish_to_reporting(run_eod_group.output, mis_date=MIS_DATE_OF_RUN)
