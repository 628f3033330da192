"""Operator and sensor scenarios, once waiting on the worker (``ops_sync``) and once deferred (``ops_deferrable``).

Each task is one scenario; tests/operators/test_operators_in_airflow.py reads each task's outcome from
the ``airflow dags test`` output. The simulator serving them uses ``ops_catalogue()``.
"""

from __future__ import annotations

import datetime
import json
from importlib import resources
from typing import Any

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ofs.operators.batch import (
    OFSInterruptBatchOperator,
    OFSRerunBatchOperator,
    OFSRestartBatchOperator,
    OFSTriggerBatchOperator,
)
from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor

POLL = 0.2
RUN_ID = "{{{{ ti.xcom_pull(task_ids='{}', key='batch_run_id') }}}}"


def ops_catalogue() -> dict[str, Any]:
    """The demo catalogue plus SLOW (a minute at speed 50: long enough to interrupt) and DURABLE (see below)."""
    demo = json.loads(resources.files("airflow_provider_ofs.simulator").joinpath("demo_catalogue.json").read_text())
    demo["batches"]["SLOW"] = {"tasks": [{"code": "SLOW_STEP", "seconds": 3000, "outcome": "success"}]}
    # The first try loses contact with ESI (two 503s spend a retry budget of 2) after the run id was kept.
    demo["batches"]["DURABLE"] = {"tasks": [{"code": "DURABLE_STEP", "seconds": 300, "outcome": "success"}]}
    demo["faults"] = [{"verb": "status", "batch": "DURABLE", "answers": [503, 503]}]
    return demo


def ops_connection_extras() -> dict[str, Any]:
    """Connection extras for the simulator behind these DAGs: fast retries, a budget of two attempts."""
    return {"retry_wait": 0.05, "retry_attempts": 2}


def build(dag_id: str, deferrable: bool) -> DAG:
    waiting: dict[str, Any] = {"poll_interval": POLL, "deferrable": deferrable}
    with DAG(dag_id, start_date=datetime.datetime(2026, 1, 1), schedule=None, catchup=False) as dag:
        OFSTriggerBatchOperator(
            task_id="succeed",
            batch_name="OFS_DAILY_DATA_LOAD",
            mis_date="{{ ds }}",
            batch_params={"RUN_TYPE": "EOD"},
            task_params={"LOAD_GL_DATA": {"SOURCE": "GL"}},
            **waiting,
        )
        fail = OFSTriggerBatchOperator(task_id="fail", batch_name="OFS_LIQUIDITY_RISK", **waiting)
        # the failed task pushed its run id before waiting, so a restart can take it from XCom
        fail >> OFSRestartBatchOperator(
            task_id="restart_failed_run",
            batch_name="OFS_LIQUIDITY_RISK",
            batch_run_id=RUN_ID.format("fail"),
            trigger_rule="all_done",
            **waiting,
        )
        OFSTriggerBatchOperator(
            task_id="group_with_excluded_batch",
            batch_name="OFS_EOD_GROUP",
            batch_type="group",
            excluded_tasks=["OFS_REG_CAPITAL_CALC"],
            mis_date="{{ ds }}",
            group_params={"OFS_DAILY_DATA_LOAD": {"batchParams": {"RUN_TYPE": "EOD"}}},
            **waiting,
        )
        OFSTriggerBatchOperator(
            task_id="restart_after_failure", batch_name="OFS_REG_CAPITAL_CALC", max_restarts=1, **waiting
        )
        OFSTriggerBatchOperator(
            task_id="time_out", batch_name="OFS_FTP_PROCESS", held_tasks="FTP_ALLOCATE", timeout=1.0, **waiting
        )

        OFSTriggerBatchOperator(
            task_id="durable_retry_reconnects",
            batch_name="DURABLE",
            retries=1,
            retry_delay=datetime.timedelta(0),
            **waiting,
        )

        start_slow = OFSTriggerBatchOperator(task_id="start_slow", batch_name="SLOW", wait_for_completion=False)
        interrupt = OFSInterruptBatchOperator(
            task_id="interrupt_slow", batch_name="SLOW", batch_run_id=RUN_ID.format("start_slow")
        )
        interrupt_again = OFSInterruptBatchOperator(
            task_id="interrupt_slow_again", batch_name="SLOW", batch_run_id=RUN_ID.format("start_slow")
        )
        sense_interrupted = OFSBatchRunSensor(
            task_id="sense_interrupted", batch_run_id=RUN_ID.format("start_slow"), **waiting
        )
        start_slow >> interrupt >> interrupt_again >> sense_interrupted

        start_ftp = OFSTriggerBatchOperator(
            task_id="start_ftp", batch_name="OFS_FTP_PROCESS", wait_for_completion=False
        )
        sense_ftp = OFSBatchRunSensor(
            task_id="sense_ftp",
            batch_run_id=RUN_ID.format("start_ftp"),
            mode="poke" if deferrable else "reschedule",
            **waiting,
        )
        sense_ftp_task = OFSBatchRunSensor(
            task_id="sense_ftp_task", batch_run_id=RUN_ID.format("start_ftp"), tasks=["FTP_RATE_LOOKUP"], **waiting
        )
        rerun_ftp = OFSRerunBatchOperator(
            task_id="rerun_ftp", batch_name="OFS_FTP_PROCESS", batch_run_id=RUN_ID.format("start_ftp"), **waiting
        )
        start_ftp >> sense_ftp >> sense_ftp_task >> rerun_ftp
    return dag


ops_sync = build("ops_sync", deferrable=False)
ops_deferrable = build("ops_deferrable", deferrable=True)
