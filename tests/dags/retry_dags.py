"""The fault matrix's Airflow-retry dimension: each mutating fault, in a task with ``retries=2``.

``retry_faults`` holds one task per scenario, each on a batch of its own so that a fault armed for that
batch hits that task alone. tests/reliability/test_airflow_retries.py arms the faults, prepares the runs
that restart, rerun and interrupt act on (their ids come in through ``dag_run.conf``), runs the DAG with
``airflow dags test`` and counts, per batch, the OFS runs every try of the task created.
"""

from __future__ import annotations

import datetime
from typing import Any

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ofs.operators.batch import (
    OFSInterruptBatchOperator,
    OFSRerunBatchOperator,
    OFSRestartBatchOperator,
    OFSTriggerBatchOperator,
)

DAG_ID = "retry_faults"
#: Every task: two Airflow retries, at once.
RETRIES: dict[str, Any] = {"retries": 2, "retry_delay": datetime.timedelta(0)}
POLL: dict[str, Any] = {"poll_interval": 0.1}
CONF = "{{{{ dag_run.conf['{}'] }}}}"

#: task id -> (operator kind, batch, deferrable)
SCENARIOS: dict[str, tuple[str, str, bool]] = {
    "trigger_answer_lost": ("trigger", "R_TRIGGER_LOST", False),
    "trigger_answer_lost_deferred": ("trigger", "R_TRIGGER_LOST_D", True),
    "trigger_answer_too_slow": ("trigger", "R_TRIGGER_SLOW", False),
    "trigger_http_500": ("trigger", "R_TRIGGER_500", False),
    "trigger_unknown_batch": ("trigger", "R_NO_SUCH_BATCH", False),
    "trigger_wait_lost": ("trigger", "R_WAIT_LOST", False),
    "trigger_wait_lost_deferred": ("trigger", "R_WAIT_LOST_D", True),
    "restart_answer_lost": ("restart", "R_RESTART_LOST", False),
    "restart_wait_lost": ("restart", "R_RESTART_WAIT", False),
    "rerun_answer_lost": ("rerun", "R_RERUN_LOST", False),
    "rerun_wait_lost": ("rerun", "R_RERUN_WAIT", False),
    "rerun_wait_lost_deferred": ("rerun", "R_RERUN_WAIT_D", True),
    "interrupt_answer_lost": ("interrupt", "R_INTERRUPT_LOST", False),
}
#: "OFS accepted, then the task failed": the call's success answer carries a batchRunId of each unusable shape
#: (the simulator's ``bad_run_id:<shape>`` faults). task id -> (operator kind, batch, deferrable)
BAD_RUN_ID_SHAPES = ("missing", "number", "blank", "newline", "surrogate", "huge")
ACCEPTED_SCENARIOS: dict[str, tuple[str, str, bool]] = {
    f"accepted_{kind}{'_deferred' if deferrable else ''}_{shape}": (
        kind,
        f"R_ACC_{kind.upper()}{'_D' if deferrable else ''}_{shape.upper()}",
        deferrable,
    )
    for kind, deferrable in (("trigger", False), ("trigger", True), ("restart", False), ("rerun", False))
    for shape in BAD_RUN_ID_SHAPES
}
SCENARIOS.update(ACCEPTED_SCENARIOS)

with DAG(DAG_ID, start_date=datetime.datetime(2026, 1, 1), schedule=None, catchup=False):
    for task_id, (kind, batch, deferrable) in SCENARIOS.items():
        if kind == "trigger":
            OFSTriggerBatchOperator(task_id=task_id, batch_name=batch, deferrable=deferrable, **POLL, **RETRIES)
        elif kind == "interrupt":
            OFSInterruptBatchOperator(task_id=task_id, batch_name=batch, batch_run_id=CONF.format(batch), **RETRIES)
        else:
            action = OFSRestartBatchOperator if kind == "restart" else OFSRerunBatchOperator
            action(
                task_id=task_id,
                batch_name=batch,
                batch_run_id=CONF.format(batch),
                deferrable=deferrable,
                **POLL,
                **RETRIES,
            )
