"""The user's front door in a real Airflow (tests/operators/test_front_door.py): connections as Airflow's own
form, URI and CLI store them, IAM refusing the password, and an ESI refusal's message in the task log.

- ``form_connection``: a trigger through connection ``ofs_door_form``, added with ``airflow connections add
  --conn-json`` holding what the 3.x form stores (every empty field ``null``). (Deferrable, under a real
  triggerer: tests/reliability/test_example_dags_scheduled.py; ``dags test`` runs a trigger inline, where
  Airflow 3.3 finds no connection of the database.)
- ``uri_connection``: connection ``ofs_door_uri``, added with ``--conn-uri`` naming port and scheme.
- ``refused_password``: ``retries=1``; IAM refuses the connection's password, so no retry may ask again.
- ``unknown_batch``: ESI answers -3 (object does not exist).
- ``undefined_connection``: connection ``ofs_door_nowhere`` exists nowhere.
"""

from __future__ import annotations

import datetime

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_ofs.operators.batch import OFSTriggerBatchOperator

DAG_ID = "front_door"
POLL = {"poll_interval": 0.1}

with DAG(DAG_ID, start_date=datetime.datetime(2026, 1, 1), schedule=None, catchup=False):
    OFSTriggerBatchOperator(task_id="form_connection", batch_name="FD_FORM", ofs_conn_id="ofs_door_form", **POLL)
    OFSTriggerBatchOperator(task_id="uri_connection", batch_name="FD_URI", ofs_conn_id="ofs_door_uri", **POLL)
    OFSTriggerBatchOperator(
        task_id="refused_password",
        batch_name="FD_REFUSED",
        ofs_conn_id="ofs_door_wrong_password",
        retries=1,
        retry_delay=datetime.timedelta(0),
        **POLL,
    )
    OFSTriggerBatchOperator(task_id="unknown_batch", batch_name="FD_NO_SUCH_BATCH", **POLL)
    OFSTriggerBatchOperator(
        task_id="undefined_connection", batch_name="FD_NOWHERE", ofs_conn_id="ofs_door_nowhere", **POLL
    )
