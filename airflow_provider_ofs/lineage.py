"""OpenLineage for OFS runs: the ``ofs_batchRun`` run facet a task reports when it ends.

The OpenLineage provider (``airflow-provider-ofs[openlineage]``) calls the operators' and the sensor's
``get_openlineage_facets_on_complete`` (also on failure); only that method imports this module, so
without the provider nothing here, nor OpenLineage itself, is ever loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.openlineage.extractors import OperatorLineage
from attrs import define, field
from openlineage.client.facet_v2 import RunFacet

from airflow_provider_ofs import __version__
from airflow_provider_ofs.exceptions import OFSSchedulerError

if TYPE_CHECKING:
    from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
    from airflow_provider_ofs.published import RunOutcome

#: The key of the facet in the run's facets (custom facets carry a prefix of their own: ``ofs_``).
FACET_NAME = "ofs_batchRun"
#: The facet's JSON schema, at the release tag of this version (the file is ``facets/OFSBatchRunFacet.json``).
SCHEMA_URL = (
    "https://raw.githubusercontent.com/airflow-provider-ofs/airflow-provider-ofs/"
    f"v{__version__}/airflow_provider_ofs/facets/OFSBatchRunFacet.json#/$defs/OFSBatchRunFacet"
)


@define
class OFSBatchRunFacet(RunFacet):
    """The OFS run an Airflow task started or watched, and how it ended (fields in camelCase, as in OpenLineage)."""

    batchRunId: str
    action: str
    batchName: str | None = field(default=None)
    batchType: str | None = field(default=None)
    misDate: str | None = field(default=None)
    sourceBatchRunId: str | None = field(default=None)
    state: str | None = field(default=None)
    failedTasks: list[str] = field(factory=list)
    childRuns: list[dict[str, str]] = field(factory=list)
    monitorUrl: str | None = field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return SCHEMA_URL


def run_lineage(
    *,
    action: str,
    batch_run_id: str | None,
    batch_name: str | None,
    outcome: RunOutcome | None,
    hook: OFSSchedulerHook,
    **details: Any,
) -> OperatorLineage[Any, Any]:
    """The task's lineage: the ``ofs_batchRun`` facet of its run, or nothing when no run exists.

    ``details`` are the facet's optional fields the task knows (``batchType``, ``misDate``,
    ``sourceBatchRunId``); ``outcome`` is ``None`` when the wait did not end (not waited, timed out, lost).
    """
    if batch_run_id is None:
        return OperatorLineage()
    try:
        monitor_url = hook.monitor_url(batch_run_id, batch_name or "")
    except OFSSchedulerError:  # the connection's own error failed the task already; keep the rest of the facet
        monitor_url = None
    fields: dict[str, Any] = {"batchName": batch_name, "monitorUrl": monitor_url, **details}
    if outcome is not None:
        fields["state"] = outcome.state
        fields["failedTasks"] = list(outcome.failed_tasks)
        fields["childRuns"] = [{"batchRunId": run_id, "state": state} for run_id, state in outcome.children]
    facet = OFSBatchRunFacet(
        batchRunId=batch_run_id, action=action, **{name: value for name, value in fields.items() if value is not None}
    )
    return OperatorLineage(run_facets={FACET_NAME: facet})
