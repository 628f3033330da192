"""OpenLineage for OFS runs: the ``ofs_batchRun`` run facet a task reports when it ends.

The OpenLineage provider (``airflow-provider-ofs[openlineage]``) calls the operators' and the sensor's
``get_openlineage_facets_on_complete`` (also on failure); only that method imports this module, so
without the provider nothing here, nor OpenLineage itself, is ever loaded.
"""

from __future__ import annotations

import re
from typing import Any

from airflow.providers.openlineage.extractors import OperatorLineage
from attrs import define, field
from openlineage.client.facet_v2 import RunFacet

from airflow_provider_ofs import __version__

#: The key of the facet in the run's facets (custom facets carry a prefix of their own: ``ofs_``).
FACET_NAME = "ofs_batchRun"
#: The release this version is, or leads to (``0.2.0`` for ``0.2.0.dev0``): its tag holds the schema.
RELEASE = re.findall(r"^\d+(?:\.\d+)*", __version__)[0]
#: The facet's JSON schema, ``facets/OFSBatchRunFacet.json`` at the release's tag.
SCHEMA_URL = (
    "https://raw.githubusercontent.com/airflow-provider-ofs/airflow-provider-ofs/"
    f"v{RELEASE}/airflow_provider_ofs/facets/OFSBatchRunFacet.json#/$defs/OFSBatchRunFacet"
)

__all__ = ["FACET_NAME", "SCHEMA_URL", "OFSBatchRunFacet", "OperatorLineage", "run_lineage"]


@define
class OFSBatchRunFacet(RunFacet):
    """The OFS run an Airflow task started or watched, and how it ended (fields in camelCase, as in OpenLineage).

    A field left ``None`` is not sent: ``state``, ``failedTasks`` and ``childRuns`` only once the wait ended;
    ``failedTasksOmitted`` and ``childRunsOmitted`` only when a list was longer than ``MAX_LISTED`` (100).
    """

    batchRunId: str
    action: str
    batchName: str | None = field(default=None)
    batchType: str | None = field(default=None)
    misDate: str | None = field(default=None)
    sourceBatchRunId: str | None = field(default=None)
    state: str | None = field(default=None)
    failedTasks: list[str] | None = field(default=None)
    childRuns: list[dict[str, str]] | None = field(default=None)
    failedTasksOmitted: int | None = field(default=None)
    childRunsOmitted: int | None = field(default=None)
    monitorUrl: str | None = field(default=None)
    recoveries: list[dict[str, Any]] | None = field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return SCHEMA_URL


def run_lineage(task: Any, batch_run_id: str, **fields: Any) -> OperatorLineage[Any, Any]:
    """The ``ofs_batchRun`` facet of the run ``task`` started or watched; ``fields`` are those only the task knows.

    The rest comes from what the task kept: its ``batch_name``, its ``run_outcome`` (once the wait ended)
    and its connection's ``monitor_url`` (already read: a run exists only after the connection was).
    """
    outcome = task.run_outcome
    if outcome is not None:
        fields["state"] = outcome.state
        fields["failedTasks"] = list(outcome.failed_tasks)
        fields["childRuns"] = [{"batchRunId": run_id, "state": state} for run_id, state in outcome.children]
        if outcome.omitted is not None:  # a list longer than MAX_LISTED: how many entries it left out
            fields["failedTasksOmitted"] = outcome.failed_tasks_omitted
            fields["childRunsOmitted"] = outcome.children_omitted
    if getattr(task, "recovery_answers", None):  # a person chose what to do with a failed run (``recovery=``)
        fields["recoveries"] = list(task.recovery_answers)
    facet = OFSBatchRunFacet(
        batchRunId=batch_run_id,
        batchName=task.batch_name,
        monitorUrl=task.hook.monitor_url(batch_run_id, task.batch_name or ""),
        **fields,
    )
    return OperatorLineage(run_facets={FACET_NAME: facet})
