"""The DAGs of the recovery test (test_recovery_under_a_scheduler.py): one failing batch each, ``recovery=`` set.

Defined on Airflow 3.3+ only (older Airflow refuses ``recovery=`` where the DAG is parsed). The test answers each
question through Airflow's REST API, as the Required Actions page does:

- ``rc_restart`` (deferrable) is answered **Restart**, ``rc_rerun`` (on the worker) **Rerun**: their batch fails
  once, so the restarted or rerun run succeeds, and ``after`` runs;
- ``rc_done`` is answered **Mark done** (its batch always fails): the task succeeds, ``after`` runs;
- ``rc_fail`` is answered **Fail**: the task fails at once, whatever its retries;
- ``rc_timeout`` is not answered: after 5 s its default, **Restart**, applies;
- ``rc_retry`` is answered **Restart** while ESI's status answers fail (the test scripts them): the try is
  lost, and Airflow's retry reconnects to the restarted run instead of acting again;
- ``rc_quick`` is answered **Restart** the moment it asks. Airflow 3.3.2 may then fail the resumed try (the
  executor's report that the asking try's process ended arrives after the answer queued the task again:
  "finished with state success, but the task instance's state attribute is queued"); its retry asks again. It has
  the example DAG's retry settings: with a retry_delay of seconds and a busy executor, the late resumed try can
  take the retry's place, failing it too;
- ``rc_lost``: try 1 loses its run (the catalogue's status faults), which fails meanwhile; Airflow's retry finds
  the kept run failed and asks (a new question for the new try) instead of triggering anew; answered Restart;
- ``rc_mapped`` maps the task over two batches that fail once: each map index asks its own question, and the
  test answers index 0 **Restart** and index 1 **Rerun**.
"""

from __future__ import annotations

import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.operators.batch import OFSTriggerBatchOperator
from airflow_provider_ofs.recovery import MINIMUM_AIRFLOW, RESTART, OFSRecovery

START = datetime.datetime(2026, 1, 1)
MIS_DATE = "2026-03-31"
FAILS_ONCE = {"tasks": [{"code": "RC_STEP", "seconds": 2, "outcome": "fail_once"}]}
FAILS = {"tasks": [{"code": "RC_BROKEN", "seconds": 1, "outcome": "fail"}]}
#: DAG id -> (batch, catalogue entry, operator arguments)
CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "rc_restart": ("RC_RESTART", FAILS_ONCE, {"deferrable": True}),
    "rc_rerun": ("RC_RERUN", FAILS_ONCE, {}),
    "rc_done": ("RC_DONE", FAILS, {}),
    "rc_fail": ("RC_FAIL", FAILS, {"retries": 2}),
    "rc_timeout": (
        "RC_TIMEOUT",
        FAILS_ONCE,
        {"recovery": OFSRecovery(response_timeout=datetime.timedelta(seconds=5), default=RESTART)},
    ),
    "rc_retry": (
        "RC_RETRY",
        {"tasks": [{"code": "RC_STEP", "seconds": 8, "outcome": "fail_once"}]},
        {"retries": 1, "retry_delay": datetime.timedelta(seconds=1)},
    ),
    "rc_quick": ("RC_QUICK", FAILS_ONCE, {"retries": 1, "retry_delay": datetime.timedelta(minutes=1)}),
    "rc_lost": (
        "RC_LOST",
        {"tasks": [{"code": "RC_STEP", "seconds": 0.5, "outcome": "fail_once"}]},
        {"retries": 1, "retry_delay": datetime.timedelta(seconds=5)},
    ),
}
#: The batches ``rc_mapped`` maps its task over, in map-index order.
MAPPED = ("RC_MAP_0", "RC_MAP_1")
#: Every attempt of RC_LOST's first status call fails: try 1 gives its run up, which ends failed before the retry.
LOST_FAULTS = [{"verb": "status", "batch": "RC_LOST", "answers": [503] * 5}]


def catalogue() -> dict[str, Any]:
    batches = {batch: entry for batch, entry, _ in CASES.values()}
    return {"batches": {**batches, **dict.fromkeys(MAPPED, FAILS_ONCE)}, "faults": LOST_FAULTS}


@task
def after(batch_run_id: str) -> str:
    """The work downstream of the batch: runs only when the batch's task succeeded."""
    return batch_run_id


if airflow_version() >= MINIMUM_AIRFLOW:
    for dag_id, (batch, _, arguments) in CASES.items():
        with DAG(dag_id, start_date=START, schedule="@once", catchup=False):
            load = OFSTriggerBatchOperator(
                task_id="load",
                batch_name=batch,
                mis_date=MIS_DATE,
                poll_interval=0.5,
                **{"recovery": OFSRecovery(), **arguments},
            )
            after(load.output)

    with DAG("rc_mapped", start_date=START, schedule="@once", catchup=False):
        OFSTriggerBatchOperator.partial(
            task_id="load", mis_date=MIS_DATE, poll_interval=0.5, recovery=OFSRecovery()
        ).expand(batch_name=list(MAPPED))
