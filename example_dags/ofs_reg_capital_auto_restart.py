"""
### Regulatory capital with automatic restart

**calculate_regulatory_capital** runs the OFS batch `OFS_REG_CAPITAL_CALC` for the MIS date. When the run
fails (or is interrupted or aborted), the operator restarts it through the Restart API, up to
`max_restarts` times: OFS runs again only the tasks that did not succeed, and the operator watches the run
id that the restart returns. Only when the last restart fails too does the Airflow task fail, naming the
run id and the failed task codes.

This is a second line of recovery beside Airflow's own task retries: `retries=1` with
`restart_on_retry=True` makes a retry of the task (on Airflow 3.3+, where the run id survives in the
task-state store) restart the failed run of the previous try instead of triggering a new one.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ofs.operators.batch import MIS_DATE_OF_RUN, OFSTriggerBatchOperator

# Seconds between status calls: a minute suits real batches; the demo and the tests shrink it.
POLL_INTERVAL = float(os.environ.get("OFS_EXAMPLE_POLL_INTERVAL", "60"))

with DAG(
    dag_id="ofs_reg_capital_auto_restart",
    description="OFS regulatory capital batch, restarted automatically when a run fails",
    doc_md=__doc__,
    schedule="0 4 * * 1-5",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["ofs", "example", "recovery"],
) as dag:
    calculate_regulatory_capital = OFSTriggerBatchOperator(
        task_id="calculate_regulatory_capital",
        batch_name="OFS_REG_CAPITAL_CALC",
        mis_date=MIS_DATE_OF_RUN,
        max_restarts=2,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=3),
        retries=1,
        retry_delay=timedelta(minutes=10),
        restart_on_retry=True,
    )
