"""Wrong operator arguments in a DAG file: Airflow's DAG parsing reports an import error that names the argument.

The operator tests call constructors directly; this proves what a DAG author sees: the DAG file does
not load (the error shows in the UI's import errors), and the message names the argument and the
value. Templated arguments are checked when the task starts (tests/operators).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

try:  # Airflow 3.1+
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 2.11 and 3.0
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

TRIGGER = "OFSTriggerBatchOperator(task_id='t', {arguments})"
CASES = {
    "unknown_batch_type": (
        TRIGGER.format(arguments="batch_name='B', batch_type='chain'"),
        "batch_type must be 'batch' or 'group', not 'chain'",
    ),
    "empty_batch_name": (TRIGGER.format(arguments="batch_name='  '"), "batch_name must be a non-empty string"),
    "negative_poll_interval": (
        TRIGGER.format(arguments="batch_name='B', poll_interval=-5"),
        "poll_interval must not be negative, got -5",
    ),
    "mis_date_not_a_date": (
        TRIGGER.format(arguments="batch_name='B', mis_date='2026-02-30'"),
        "mis_date must be a date in yyyy-mm-dd form, not '2026-02-30'",
    ),
    "mis_date_of_another_type": (
        TRIGGER.format(arguments="batch_name='B', mis_date=20260131"),
        "mis_date must be a date in yyyy-mm-dd form, not 20260131",
    ),
    "mis_date_as_an_iso_week": (
        TRIGGER.format(arguments="batch_name='B', mis_date='2026-W05-3'"),
        "mis_date must be a date in yyyy-mm-dd form, not '2026-W05-3'",
    ),
    "negative_timeout": (TRIGGER.format(arguments="batch_name='B', timeout=-1"), "timeout must not be negative"),
    "zero_poll_interval": (
        TRIGGER.format(arguments="batch_name='B', poll_interval=0"),
        "poll_interval must be at least 0.01 s",
    ),
    "sensor_zero_poll_interval": (
        "OFSBatchRunSensor(task_id='t', batch_run_id='R1', poll_interval=0)",
        "poll_interval must be at least 0.01 s",
    ),
    "sensor_negative_poll_interval": (
        "OFSBatchRunSensor(task_id='t', batch_run_id='R1', poll_interval=-1)",
        "poll_interval must not be negative",
    ),
    "interrupt_empty_run_id": (
        "OFSInterruptBatchOperator(task_id='t', batch_name='B', batch_run_id='')",
        "batch_run_id must be an OFS run id",
    ),
    "rerun_empty_batch_name": (
        "OFSRerunBatchOperator(task_id='t', batch_name='', batch_run_id='R1')",
        "batch_name must be a non-empty string",
    ),
}
DAG_FILE = """
import datetime
from airflow.providers.common.compat.sdk import DAG
from airflow_provider_ofs.operators.batch import (
    OFSInterruptBatchOperator, OFSRerunBatchOperator, OFSTriggerBatchOperator,
)
from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor

with DAG("rel_bad_input", start_date=datetime.datetime(2026, 1, 1), schedule=None):
    {task}
"""


@pytest.mark.parametrize(("task", "complaint"), CASES.values(), ids=CASES.keys())
def test_wrong_operator_argument_fails_dag_parsing_naming_the_argument(
    tmp_path: Path, task: str, complaint: str
) -> None:
    dag_file = tmp_path / "rel_bad_input.py"
    dag_file.write_text(textwrap.dedent(DAG_FILE).format(task=task))

    bag = DagBag(dag_folder=str(dag_file))  # examples are off (tests/conftest.py)

    assert "rel_bad_input" not in bag.dags
    [error] = bag.import_errors.values()
    assert "ValueError" in error
    assert complaint in error


def test_right_arguments_parse(tmp_path: Path) -> None:
    """The same DAG file with sound arguments loads, so the failures above come from the arguments."""
    dag_file = tmp_path / "rel_bad_input.py"
    task = TRIGGER.format(arguments="batch_name='B', batch_type='group', poll_interval=5, mis_date='2026-01-31'")
    dag_file.write_text(textwrap.dedent(DAG_FILE).format(task=task))

    bag = DagBag(dag_folder=str(dag_file))  # examples are off (tests/conftest.py)

    assert not bag.import_errors
    assert "rel_bad_input" in bag.dags
