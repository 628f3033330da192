"""
### Chain OFS with other pipelines: DAGs scheduled on OFS batches' assets

Each OFS batch or batch group is an Airflow asset (a dataset on Airflow 2), and the trigger, restart and
rerun operators and the sensor emit an event for it when the run they waited for succeeds. Two consumers:

- **ofs_reporting_on_eod_group** runs whenever `OFS_EOD_GROUP` succeeded (for instance in
  `ofs_eod_group_to_reporting`): it reads the run id and MIS date from the event that triggered it and builds
  the reporting extract for exactly that MIS date. Started by hand, it takes them from its params instead.
- **ofs_watch_announced_run** is scheduled on `OFS_GL_RECON`, a batch OFS's own scheduler starts: OFS's
  post-batch step (or an operations tool) announces the run with `POST /api/v2/assets/events` and
  `{"batchRunId": ..., "batchName": ...}`; the sensor watches the run the event names. It triggers nothing
  and, the run being announced already, emits no event of its own. The README's "Runs OFS starts itself"
  walks through it against the simulator.

Both start paused, as every new DAG does by default: unpause them to let their assets schedule them.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Param, get_current_context, task

from airflow_provider_ofs.assets import (
    TRIGGERING_BATCH_NAME,
    TRIGGERING_BATCH_RUN_ID,
    ofs_batch_asset,
    triggering_run,
)
from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor

# Seconds between status calls: a minute suits real batches; the demo and the tests shrink it.
POLL_INTERVAL = float(os.environ.get("OFS_EXAMPLE_POLL_INTERVAL", "60"))

with DAG(
    dag_id="ofs_reporting_on_eod_group",
    description="Reporting for the MIS date of each successful OFS end-of-day group run (asset-scheduled)",
    doc_md=__doc__,
    schedule=[ofs_batch_asset("OFS_EOD_GROUP")],  # the asset on the ofs_scheduler_default connection's OFS
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # Optional ("null" in each type), so the Trigger dialog starts a run with the defaults.
    params={
        "batch_run_id": Param(None, type=["null", "string"], title="OFS run id (started by hand)"),
        "mis_date": Param(None, type=["null", "string"], format="date", title="MIS date (started by hand)"),
    },
    tags=["ofs", "example"],
):

    @task
    def build_reporting_extract() -> dict[str, Any]:
        """Build the extract for the MIS date of the OFS run that triggered this DAG run."""
        context = get_current_context()
        run = triggering_run(context) or {
            "batchRunId": context["params"]["batch_run_id"],
            "misDate": context["params"]["mis_date"],
        }
        print(f"Reporting extract for MIS date {run.get('misDate')}, from OFS run {run['batchRunId']}")
        return {"ofs_run": run["batchRunId"], "mis_date": run.get("misDate")}

    build_reporting_extract()

with DAG(
    dag_id="ofs_watch_announced_run",
    description="Watch an OFS run that OFS started itself and announced through Airflow's REST API",
    doc_md=__doc__,
    schedule=[ofs_batch_asset("OFS_GL_RECON")],  # started by OFS, announced through the REST API
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["ofs", "example"],
):
    OFSBatchRunSensor(
        task_id="watch_announced_run",
        batch_run_id=TRIGGERING_BATCH_RUN_ID,
        batch_name=TRIGGERING_BATCH_NAME,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=6 * 60 * 60,
    )
