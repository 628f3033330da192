"""The ``ofs_batchRun`` OpenLineage facet: its schema URL, its content and what a task reports without a run.

The facets the tasks report in a real Airflow, read from the OpenLineage file transport, are checked in
test_published.py; here what a ``dags test`` cannot show.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from openlineage.client.serde import Serde

from airflow_provider_ofs import __version__
from airflow_provider_ofs.get_provider_info import SOURCE_URL
from airflow_provider_ofs.lineage import FACET_NAME, SCHEMA_URL, run_lineage
from airflow_provider_ofs.operators.batch import OFSTriggerBatchOperator
from airflow_provider_ofs.published import RunOutcome
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from tests.operators.facet_schema import SCHEMA_FILE, assert_valid_facet

ROOT = Path(__file__).resolve().parents[2]
RUN_ID = "EOD_GROUP_2026-01-31_1769817600000_1"
CATALOGUE = {"batches": {"QUICK": {"tasks": [{"code": "STEP", "seconds": 0.1}]}}}


def test_the_schema_url_names_the_shipped_schema_at_the_tag_of_this_version() -> None:
    parts = re.fullmatch(r"https://raw\.githubusercontent\.com/([^/]+/[^/]+)/([^/]+)/([^#]+)#(.+)", SCHEMA_URL)

    assert parts is not None, SCHEMA_URL
    repository, tag, path, fragment = parts.groups()
    assert f"https://github.com/{repository}" == SOURCE_URL
    assert tag == f"v{__version__}"
    assert ROOT / path == SCHEMA_FILE
    assert SCHEMA_FILE.is_file()
    assert fragment == "/$defs/OFSBatchRunFacet"
    assert "OFSBatchRunFacet" in json.loads(SCHEMA_FILE.read_text())["$defs"]


def facet_of(operator: OFSTriggerBatchOperator) -> dict:
    lineage = operator.get_openlineage_facets_on_complete(task_instance=None)
    return Serde.to_dict(lineage.run_facets[FACET_NAME])


def test_a_facet_as_openlineage_serialises_it_matches_the_schema_and_a_broken_one_does_not(ofs_simulator, monkeypatch):
    monkeypatch.setenv(CONN_ENV_VAR, ofs_simulator.connection_json(monitor_url="{host}/runs/{run_id}"))
    lineage = run_lineage(
        action="trigger",
        batch_run_id=RUN_ID,
        batch_name="EOD_GROUP",
        outcome=RunOutcome("FAILED", ("EOD_B_1",), (("EOD_A_1", "SUCCESSFUL"), ("EOD_B_1", "FAILED"))),
        hook=OFSTriggerBatchOperator(task_id="t", batch_name="EOD_GROUP").hook,
        batchType="group",
        misDate="2026-01-31",
    )
    facet = Serde.to_dict(lineage.run_facets[FACET_NAME])

    assert_valid_facet(facet)
    assert facet["childRuns"] == [
        {"batchRunId": "EOD_A_1", "state": "SUCCESSFUL"},
        {"batchRunId": "EOD_B_1", "state": "FAILED"},
    ]
    assert facet["monitorUrl"] == f"{ofs_simulator.base_url.rstrip('/')}/runs/{RUN_ID}"
    with pytest.raises(jsonschema.ValidationError, match="31/01/2026"):
        assert_valid_facet({**facet, "misDate": "31/01/2026"})
    with pytest.raises(jsonschema.ValidationError, match="batchRunId"):
        assert_valid_facet({name: value for name, value in facet.items() if name != "batchRunId"})


def test_a_task_that_started_no_run_reports_no_facet() -> None:
    lineage = OFSTriggerBatchOperator(task_id="t", batch_name="QUICK").get_openlineage_facets_on_complete(None)

    assert lineage.run_facets == {}


def test_a_monitor_url_that_cannot_be_built_leaves_the_rest_of_the_facet(ofs_simulator, monkeypatch):
    # The connection's own error failed the task already; lineage still says which run it was.
    monkeypatch.setenv(CONN_ENV_VAR, ofs_simulator.connection_json(monitor_url="{host}/runs/without-the-run-id"))
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="QUICK", mis_date="2026-01-31")
    operator.watched_run_id = RUN_ID

    facet = facet_of(operator)

    assert "monitorUrl" not in facet
    assert facet["batchRunId"] == RUN_ID
    assert facet["misDate"] == "2026-01-31"
    assert "state" not in facet, "the wait did not end: no state is claimed"


def test_a_task_whose_arguments_were_refused_before_sending_reports_no_facet_and_no_error() -> None:
    operator = OFSTriggerBatchOperator(task_id="t", batch_name="QUICK", mis_date="{{ ds }}")
    operator.mis_date = "31/01/2026"  # rendered into something the task refused before sending

    with pytest.raises(ValueError, match="mis_date"):
        operator._rendered_arguments()
    assert operator.get_openlineage_facets_on_complete(None).run_facets == {}
