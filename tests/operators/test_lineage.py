"""The ``ofs_batchRun`` OpenLineage facet: its schema URL, its content and what a task reports without a run.

The facets the tasks report in a real Airflow, read from the OpenLineage file transport, are checked in
test_published.py; here what a ``dags test`` cannot show.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openlineage.client.serde import Serde

from airflow_provider_ofs import __version__
from airflow_provider_ofs.get_provider_info import SOURCE_URL
from airflow_provider_ofs.lineage import FACET_NAME, RELEASE, SCHEMA_URL, OFSBatchRunFacet
from airflow_provider_ofs.operators.batch import OFSTriggerBatchOperator
from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from tests.operators.facet_schema import SCHEMA_FILE, assert_valid_facet

ROOT = Path(__file__).resolve().parents[2]
RUN_ID = "EOD_GROUP_2026-01-31_1769817600000_1"
CATALOGUE = {"batches": {"QUICK": {"tasks": [{"code": "STEP", "seconds": 0.1}]}}}


def test_the_schema_url_names_the_shipped_schema_at_the_tag_of_this_versions_release() -> None:
    parts = re.fullmatch(r"https://raw\.githubusercontent\.com/([^/]+/[^/]+)/([^/]+)/([^#]+)#(.+)", SCHEMA_URL)

    assert parts is not None, SCHEMA_URL
    repository, tag, path, fragment = parts.groups()
    assert f"https://github.com/{repository}" == SOURCE_URL
    assert tag == f"v{RELEASE}"
    assert __version__.startswith(RELEASE)
    assert ROOT / path == SCHEMA_FILE
    assert SCHEMA_FILE.is_file()
    assert fragment == "/$defs/OFSBatchRunFacet"
    assert "OFSBatchRunFacet" in json.loads(SCHEMA_FILE.read_text())["$defs"]


def facet_of(task: Any) -> dict[str, Any] | None:
    """The task's ``ofs_batchRun`` facet as OpenLineage serialises it, or ``None`` when it reports none."""
    facet = task.get_openlineage_facets_on_complete(task_instance=None).run_facets.get(FACET_NAME)
    return None if facet is None else Serde.to_dict(facet)


def test_the_facet_class_serialises_to_what_the_schema_allows_and_a_broken_facet_is_refused() -> None:
    facet = Serde.to_dict(
        OFSBatchRunFacet(
            batchRunId=RUN_ID,
            action="trigger",
            batchName="EOD_GROUP",
            batchType="group",
            misDate="2026-01-31",
            state="FAILED",
            failedTasks=["EOD_B_1"],
            childRuns=[{"batchRunId": "EOD_A_1", "state": "SUCCESSFUL"}, {"batchRunId": "EOD_B_1", "state": "FAILED"}],
            monitorUrl=f"https://ofs.example.com/runs/{RUN_ID}",
        )
    )

    assert_valid_facet(facet)
    assert facet["_schemaURL"] == SCHEMA_URL
    with pytest.raises(jsonschema.ValidationError, match="31/01/2026"):
        assert_valid_facet({**facet, "misDate": "31/01/2026"})
    with pytest.raises(jsonschema.ValidationError, match="batchRunId"):
        assert_valid_facet({name: value for name, value in facet.items() if name != "batchRunId"})


def test_a_run_whose_wait_did_not_end_is_reported_without_a_state_or_task_lists(ofs_simulator_factory, monkeypatch):
    simulator = ofs_simulator_factory(CATALOGUE)
    monkeypatch.setenv(CONN_ENV_VAR, simulator.connection_json(monitor_url="{host}/runs/{run_id}"))
    task = OFSTriggerBatchOperator(
        task_id="t", batch_name="QUICK", mis_date="2026-01-31", wait_for_completion=False, durable=False
    )

    run_id = task.execute({})

    assert facet_of(task) == {
        "_producer": facet_of(task)["_producer"],
        "_schemaURL": SCHEMA_URL,
        "batchRunId": run_id,
        "action": "trigger",
        "batchName": "QUICK",
        "batchType": "batch",
        "misDate": "2026-01-31",
        "monitorUrl": f"{simulator.base_url.rstrip('/')}/runs/{run_id}",
    }, "no state, failedTasks or childRuns: nothing is claimed about a wait that did not end"


def test_a_task_that_started_no_run_reports_no_facet() -> None:
    assert facet_of(OFSTriggerBatchOperator(task_id="t", batch_name="QUICK")) is None


def test_a_task_whose_arguments_were_refused_before_sending_reports_no_facet_and_no_error() -> None:
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="QUICK", mis_date="{{ ds }}")
    operator.mis_date = "31/01/2026"  # rendered into something the task refused before sending

    with pytest.raises(ValueError, match="mis_date"):
        operator._rendered_arguments()
    assert facet_of(operator) is None


def test_a_sensor_that_never_had_an_answer_for_its_run_reports_none() -> None:
    # e.g. its template failed to render: the run id it holds is not a run anybody watched.
    sensor = OFSBatchRunSensor(task_id="s", batch_run_id="{{ ti.xcom_pull(task_ids='trigger') }}")

    assert facet_of(sensor) is None


def test_the_readme_shows_the_schema_url_this_version_sends() -> None:
    assert f'"_schemaURL": "{SCHEMA_URL}"' in (ROOT / "README.md").read_text()


def test_a_long_list_of_failed_tasks_is_reported_bounded_with_the_count_left_out() -> None:
    from types import SimpleNamespace

    from airflow_provider_ofs.lineage import run_lineage
    from airflow_provider_ofs.published import MAX_LISTED, RunOutcome

    failed = tuple(f"TASK_{number}" for number in range(MAX_LISTED + 40))
    task = SimpleNamespace(
        batch_name="EOD",
        run_outcome=RunOutcome("FAILED", failed),
        hook=SimpleNamespace(monitor_url=lambda run_id, batch_name: None),
    )

    facet = Serde.to_dict(run_lineage(task, RUN_ID, action="trigger").run_facets[FACET_NAME])

    assert facet["failedTasks"] == list(failed[:MAX_LISTED])
    assert facet["failedTasksOmitted"] == 40
    assert facet["childRunsOmitted"] == 0
    assert_valid_facet(facet)


def test_the_answers_of_a_person_are_reported_and_fit_the_schema() -> None:
    from types import SimpleNamespace

    from airflow_provider_ofs.lineage import run_lineage
    from airflow_provider_ofs.published import RunOutcome
    from airflow_provider_ofs.recovery import Answer

    answers = [
        Answer("EOD_1", "Restart", "nightshift", "2026-12-07T02:14:00+00:00").record(),
        Answer("EOD_1", "Mark done", None, "2026-12-07T04:14:00+00:00").record(),  # the timeout's default
    ]
    task = SimpleNamespace(
        batch_name="EOD",
        run_outcome=RunOutcome("FAILED", ("T2",)),
        recovery_answers=answers,
        hook=SimpleNamespace(monitor_url=lambda run_id, batch_name: None),
    )

    facet = Serde.to_dict(run_lineage(task, RUN_ID, action="trigger").run_facets[FACET_NAME])

    assert facet["recoveries"] == [answers[0], {"batchRunId": "EOD_1", "choice": "Mark done", "at": answers[1]["at"]}]
    assert_valid_facet(facet)
    with pytest.raises(jsonschema.ValidationError, match="Retry"):
        assert_valid_facet({**facet, "recoveries": [{**answers[0], "choice": "Retry"}]})
