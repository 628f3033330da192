"""What tasks publish next to their run (tests/operators/test_published.py): XComs, the link, lineage.

``published`` runs a group that succeeds (on the worker), a batch that fails (deferred, with a MIS
date), a sensor on the group's run, a rerun of the group's run and a restart of the failed run
(which fails again); the connection's ``monitor_url`` gives each task an **OFS Batch Monitor** link.
The failing task names its connection through a template.
"""

from __future__ import annotations

import datetime

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ofs.operators.batch import (
    OFSRerunBatchOperator,
    OFSRestartBatchOperator,
    OFSTriggerBatchOperator,
)
from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor

with DAG("published", start_date=datetime.datetime(2026, 1, 1), schedule=None, catchup=False):
    group = OFSTriggerBatchOperator(
        task_id="group",
        batch_name="PUB_GROUP",
        batch_type="group",
        poll_interval=0.1,
        deferrable=False,
    )
    failing = OFSTriggerBatchOperator(
        task_id="failing",
        batch_name="PUB_FAILS",
        mis_date="{{ ds }}",
        poll_interval=0.1,
        deferrable=True,
        ofs_conn_id="{{ 'ofs_scheduler_' ~ 'default' }}",  # templated: a tenant per environment
    )
    group >> OFSBatchRunSensor(
        task_id="sense_group",
        batch_run_id="{{ ti.xcom_pull(task_ids='group', key='batch_run_id') }}",
        batch_name="PUB_GROUP",
        poll_interval=0.1,
        deferrable=True,
    )
    group >> OFSRerunBatchOperator(
        task_id="rerun_group",
        batch_name="PUB_GROUP",
        batch_run_id="{{ ti.xcom_pull(task_ids='group', key='batch_run_id') }}",
        poll_interval=0.1,
        deferrable=False,
    )
    failing >> OFSRestartBatchOperator(
        task_id="restart_failing",
        batch_name="PUB_FAILS",
        batch_run_id="{{ ti.xcom_pull(task_ids='failing', key='batch_run_id') }}",
        poll_interval=0.1,
        deferrable=True,
        trigger_rule="all_failed",
    )
