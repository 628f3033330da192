"""
### Manual recovery of an OFS run: restart, rerun or interrupt

For the production support desk. Trigger this DAG with its parameters (the "Trigger DAG" form, or
`airflow dags trigger ofs_manual_recovery --conf '{...}'`):

- `batch_name`: the batch (or batch group) of the run;
- `batch_run_id`: the OFS run id, as shown in the OFS Batch Monitor or in the log and XCom of the task
  that triggered it;
- `action`:
  - `restart` a failed or interrupted run: only what did not succeed runs again, and the task waits;
  - `rerun` a finished run from the beginning (OFS may give the rerun a new run id; the task watches
    the id it returns);
  - `interrupt` a run that is still going (an already interrupted run counts as done).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_ofs.operators.batch import (
    OFSInterruptBatchOperator,
    OFSRerunBatchOperator,
    OFSRestartBatchOperator,
)

# Seconds between status calls: a minute suits real batches; the demo and the tests shrink it.
POLL_INTERVAL = float(os.environ.get("OFS_EXAMPLE_POLL_INTERVAL", "60"))
ACTIONS = ["restart", "rerun", "interrupt"]

with DAG(
    dag_id="ofs_manual_recovery",
    description="Restart, rerun or interrupt one OFS run, named in the DAG run's parameters",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={
        "batch_name": Param("OFS_REG_CAPITAL_CALC", type="string", title="Batch or batch group"),
        "batch_run_id": Param(type="string", title="OFS run id", description="The run to act on"),
        "action": Param("restart", enum=ACTIONS, title="What to do with the run"),
    },
    tags=["ofs", "example", "recovery"],
) as dag:

    @task.branch
    def choose_action(action: str) -> str:
        """Follow the branch named by the ``action`` parameter."""
        return f"{action}_run"

    restart_run = OFSRestartBatchOperator(
        task_id="restart_run",
        batch_name="{{ params.batch_name }}",
        batch_run_id="{{ params.batch_run_id }}",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=4),
    )

    rerun_run = OFSRerunBatchOperator(
        task_id="rerun_run",
        batch_name="{{ params.batch_name }}",
        batch_run_id="{{ params.batch_run_id }}",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=timedelta(hours=4),
    )

    interrupt_run = OFSInterruptBatchOperator(
        task_id="interrupt_run",
        batch_name="{{ params.batch_name }}",
        batch_run_id="{{ params.batch_run_id }}",
    )

    choose_action("{{ params.action }}") >> [restart_run, rerun_run, interrupt_run]
