"""
### Daily OFS data load, then funds transfer pricing

Every night, for the MIS date of the DAG run (`MIS_DATE_OF_RUN`: the run's date, with or without a logical date;
the Trigger dialog's `mis_date` overrides it):

1. **load_staging_data** runs the OFS batch `OFS_DAILY_DATA_LOAD`. Market data is excluded because the
   treasury feed loads it in its own pipeline; excluded tasks end as EXCLUDED and do not fail the run.
2. **run_funds_transfer_pricing** runs `OFS_FTP_PROCESS` once the load has succeeded.

Both tasks wait in the triggerer (`deferrable=True`), so a long batch occupies no worker slot.

**Holding tasks.** A held task stays HELD until someone releases it in the OFS Batch Monitor: the External
Scheduler Interface has no release call, so a run with held work never finishes by itself. This DAG
therefore holds nothing by default. To hold, say, the GL reconciliation for a manual check, trigger the
DAG with the parameter `held_tasks` = `RECON_GL`: the task then waits, logging which tasks are held, until
they are released and the run ends, or fails with `OFSRunTimeoutError` after `timeout` (and interrupts the
run, since `interrupt_on_kill` is on).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_ofs.operators.batch import MIS_DATE_OF_RUN, OFSTriggerBatchOperator

# Seconds between status calls: a minute suits real batches; the demo and the tests shrink it.
POLL_INTERVAL = float(os.environ.get("OFS_EXAMPLE_POLL_INTERVAL", "60"))
# The Trigger dialog's MIS date, else the run's date.
MIS_DATE = "{{ params.mis_date or " + MIS_DATE_OF_RUN.removeprefix("{{ ")

with DAG(
    dag_id="ofs_daily_data_load",
    description="Nightly OFS staging load for the MIS date, then funds transfer pricing",
    doc_md=__doc__,
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={
        # "null" in each type: optional, so the Trigger dialog starts the run with these defaults.
        "mis_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="MIS date",
            description="The OFS MIS date (yyyy-mm-dd); empty: the date of the DAG run.",
        ),
        "held_tasks": Param(
            None,
            type=["null", "string"],
            title="Held tasks",
            description="Comma-separated task codes of OFS_DAILY_DATA_LOAD to hold until released in OFS.",
        ),
    },
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
    tags=["ofs", "example"],
) as dag:
    load_staging_data = OFSTriggerBatchOperator(
        task_id="load_staging_data",
        batch_name="OFS_DAILY_DATA_LOAD",
        mis_date=MIS_DATE,
        excluded_tasks=["LOAD_MARKET_DATA"],
        held_tasks="{{ params.held_tasks or '' }}",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=4),
    )

    run_funds_transfer_pricing = OFSTriggerBatchOperator(
        task_id="run_funds_transfer_pricing",
        batch_name="OFS_FTP_PROCESS",
        mis_date=MIS_DATE,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=2),
    )

    load_staging_data >> run_funds_transfer_pricing
