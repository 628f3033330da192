"""DAGs run by a real scheduler and triggerer (tests/reliability/test_under_a_scheduler.py), on 2.11 and 3.x.

- ``cl_deferred_timeout``: a deferred wait for a long run outlives the task's ``execution_timeout``
  (``deadline_by_execution_timeout``) or the operator's own ``timeout`` (``deadline_by_timeout``); each
  run must end interrupted and the task failed.
- ``cl_clear``: a quick batch that succeeds; the test clears the task, and the clear must trigger anew.
"""

from __future__ import annotations

import datetime

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ofs.operators.batch import OFSTriggerBatchOperator

START = datetime.datetime(2026, 1, 1)
#: Long enough for a busy 2-core machine to start the task and defer it, short enough for a test.
EXECUTION_TIMEOUT = datetime.timedelta(seconds=60)

with DAG("cl_deferred_timeout", start_date=START, schedule="@once", catchup=False):
    OFSTriggerBatchOperator(
        task_id="deadline_by_execution_timeout",
        batch_name="CL_LONG_A",
        deferrable=True,
        poll_interval=1.0,
        execution_timeout=EXECUTION_TIMEOUT,
    )
    OFSTriggerBatchOperator(
        task_id="deadline_by_timeout", batch_name="CL_LONG_B", deferrable=True, poll_interval=1.0, timeout=20
    )

with DAG("cl_clear", start_date=START, schedule="@once", catchup=False):
    OFSTriggerBatchOperator(task_id="load", batch_name="CL_QUICK", deferrable=True, poll_interval=0.5, retries=2)
