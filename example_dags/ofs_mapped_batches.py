"""
### One operator, many OFS batches: dynamic task mapping

**run_batch** is one `OFSTriggerBatchOperator` mapped over a list of batches with
`.partial(...).expand(batch_name=[...])`: Airflow creates one task instance per batch (`run_batch[0]`,
`run_batch[1]`, …), each triggering its own OFS run for the MIS date and waiting for it in the triggerer
(`deferrable=True`), so a hundred waiting batches occupy no worker slot. What every batch shares goes in
`partial`; only the batch name varies. `max_restarts=1` restarts a failed run once (the regulatory capital
batch fails once in the simulator), and `retries` with `restart_on_retry=True` makes an Airflow retry —
a lost worker, a restarted triggerer — reconnect to the same OFS run instead of triggering a second one.

**summarise** receives the list of OFS run ids, in the order of the batches.

At scale (a PostgreSQL metadata database, Celery workers, two or more triggerers) the same pattern is
proven over 42 batches in `tests/reliability/test_topology.py`; see docs/production.md.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_ofs.operators.batch import MIS_DATE_OF_RUN, OFSTriggerBatchOperator

# Seconds between status calls: a minute suits real batches; the demo and the tests shrink it.
POLL_INTERVAL = float(os.environ.get("OFS_EXAMPLE_POLL_INTERVAL", "60"))
# In production this list often comes from a Variable or an upstream task (``expand`` takes an XCom too).
BATCHES = ["OFS_DAILY_DATA_LOAD", "OFS_FTP_PROCESS", "OFS_REG_CAPITAL_CALC"]

with DAG(
    dag_id="ofs_mapped_batches",
    description="One deferrable OFS trigger operator mapped over several batches",
    doc_md=__doc__,
    schedule="0 23 * * 1-5",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["ofs", "example", "mapping"],
) as dag:
    run_batch = OFSTriggerBatchOperator.partial(
        task_id="run_batch",
        mis_date=MIS_DATE_OF_RUN,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        max_restarts=1,
        timeout=timedelta(hours=4),
        retries=2,
        retry_delay=timedelta(minutes=5),
        restart_on_retry=True,
    ).expand(batch_name=BATCHES)

    @task
    def summarise(run_ids: list[str]) -> dict[str, str]:
        """Which OFS run each batch produced (the mapped task's return values, in batch order)."""
        runs = dict(zip(BATCHES, run_ids, strict=True))
        print(f"OFS runs of tonight's batches: {runs}")
        return runs

    summarise(run_batch.output)
