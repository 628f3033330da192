"""DAGs run by a real scheduler and triggerer (tests/reliability/test_under_a_scheduler.py), on 2.11 and 3.x.

- ``cl_deferred_timeout``: a deferred wait for a long run outlives the task's ``execution_timeout``
  (``deadline_by_execution_timeout``) or the operator's own ``timeout`` (``deadline_by_timeout``); each
  run must end interrupted and the task failed.
- ``cl_clear``: a quick batch that succeeds; the test clears the task, and the clear must trigger anew.
- ``cl_retries_lowered`` (3.3+, the task-state store): the first try's batch succeeds, then the try fails
  (as a lost worker would) after lowering ``retries`` in this file from 3 to 1. Airflow retries with the
  ``max_tries`` it stored; the retry must return the run that succeeded, not trigger a second one.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ofs._compat import HAS_TASK_STATE_STORE
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


#: ``retries`` of ``cl_retries_lowered``, as the file says now: its first try lowers it.
RETRIES_FILE = Path(__file__).with_name("cl_retries_lowered.txt")


class FailsItsFirstTryAfterTheRun(OFSTriggerBatchOperator):
    """Fails try 1 once its run succeeded, after writing ``retries = 1`` where this file reads it."""

    def execute(self, context: Any) -> Any:
        run_id = super().execute(context)
        if context["ti"].try_number == 1:
            RETRIES_FILE.write_text("1")
            raise RuntimeError(f"try 1 lost after OFS run {run_id} succeeded")
        return run_id


if HAS_TASK_STATE_STORE:
    with DAG("cl_retries_lowered", start_date=START, schedule="@once", catchup=False):
        FailsItsFirstTryAfterTheRun(
            task_id="load",
            batch_name="CL_RETRIED",
            poll_interval=0.5,
            retries=int(RETRIES_FILE.read_text()) if RETRIES_FILE.exists() else 3,
            retry_delay=datetime.timedelta(seconds=1),
        )
