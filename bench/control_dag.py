"""The control for the import-cost section: ``example_dags/ofs_daily_data_load.py`` with EmptyOperator tasks.

Same schedule, start date, params and default args, so that the difference between importing the two
files is what the provider adds to parsing a DAG file; what this file costs is Airflow's alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG, Param
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG(
    dag_id="ofs_import_control",
    description="Nightly OFS staging load for the MIS date, then funds transfer pricing",
    doc_md=__doc__,
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={
        "held_tasks": Param(
            "",
            type="string",
            title="Held tasks",
            description="Comma-separated task codes of OFS_DAILY_DATA_LOAD to hold until released in OFS.",
        ),
    },
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
    tags=["ofs", "example"],
) as dag:
    EmptyOperator(task_id="load_staging_data") >> EmptyOperator(task_id="run_funds_transfer_pricing")
