"""
### Regulatory capital, and a person decides when a run fails

**calculate_regulatory_capital** runs the OFS batch `OFS_REG_CAPITAL_CALC` for the MIS date. When the run
fails, the task does not fail: it asks in Airflow's **Required Actions** (Browse → Required Actions, or the
task's own page) what to do with the run, and waits there without holding a worker slot:

- **Restart** runs again what did not succeed in that run, then the task watches it;
- **Rerun** runs the whole batch again for the same MIS date;
- **Mark done** accepts the run as it is: the task succeeds (and says who accepted it), with no asset event;
- **Fail** fails the task, with no retry.

Nobody has to find or type a run id: the question names the run, its failed tasks and its Batch Monitor
link. Unanswered for two hours, the question takes its default: Fail. A retry of the task (`retries=1`)
reconnects to the run it watched, or asks again about a failed one: it never triggers a second run. The
answer, who gave it and when are in the task's log, its XCom `ofs_recovery`, the OpenLineage facet and the
asset event of the final success; **publish_capital_report** runs once the batch succeeded (or was marked
done).

Asking needs Airflow 3.3 or later: on older Airflow this file defines no DAG (use `ofs_manual_recovery`).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.operators.batch import MIS_DATE_OF_RUN, OFSTriggerBatchOperator
from airflow_provider_ofs.recovery import MINIMUM_AIRFLOW, OFSRecovery

# Seconds between status calls: a minute suits real batches; the demo and the tests shrink it.
POLL_INTERVAL = float(os.environ.get("OFS_EXAMPLE_POLL_INTERVAL", "60"))

if airflow_version() >= MINIMUM_AIRFLOW:
    with DAG(
        dag_id="ofs_ask_on_failure",
        description="OFS regulatory capital batch; a failed run is restarted, rerun or accepted by a person",
        doc_md=__doc__,
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        tags=["ofs", "example", "recovery"],
    ) as dag:
        calculate_regulatory_capital = OFSTriggerBatchOperator(
            task_id="calculate_regulatory_capital",
            batch_name="OFS_REG_CAPITAL_CALC",
            mis_date=MIS_DATE_OF_RUN,
            deferrable=True,
            poll_interval=POLL_INTERVAL,
            recovery=OFSRecovery(response_timeout=timedelta(hours=2)),
            # A retry never triggers anew here: it reconnects to the run, or asks again about a failed one. It
            # also saves an answer given within seconds of the question, which Airflow 3.3.2 may lose (README).
            retries=1,
            retry_delay=timedelta(minutes=1),
        )

        @task
        def publish_capital_report(batch_run_id: str) -> str:
            """The work that needs the batch's results."""
            print(f"Publishing the capital report of OFS run {batch_run_id}")
            return batch_run_id

        publish_capital_report(calculate_regulatory_capital.output)
