"""Each OFS batch or batch group as an Airflow asset (a dataset on 2.x): the public names.

Everything lives in ``asset_events``, below ``published`` (which emits the events) and below the hook; this
module gathers the public names. See ``asset_events`` for the URI scheme and the events.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_ofs.asset_events import (
    FORM,
    MIS_DATE_POLICIES,
    OFS_RUNS_ALIAS,
    SCHEME,
    TRIGGERING_BATCH_NAME,
    TRIGGERING_BATCH_RUN_ID,
    TRIGGERING_MIS_DATE,
    asset_of,
    batch_uri_of,
    check_mis_date_policy,
    claimed_successes,
    convert_asset_to_openlineage,
    create_asset,
    emit_run_succeeded,
    event_extra,
    ofs_batch_uri,
    sanitize_uri,
    triggering_run,
    with_batch_asset,
    with_runs_alias,
)


def ofs_batch_asset(batch_name: str, ofs_conn_id: str | None = None) -> Any:
    """The ``Asset`` (``Dataset`` on 2.x) of a batch or group reached through ``ofs_conn_id`` (default
    ``ofs_scheduler_default``); no I/O: a DAG file that schedules on it parses with no connection defined."""
    from airflow_provider_ofs.arguments import DEFAULT_CONN_ID

    return asset_of(ofs_batch_uri(ofs_conn_id or DEFAULT_CONN_ID, batch_name))


__all__ = [
    "FORM",
    "MIS_DATE_POLICIES",
    "OFS_RUNS_ALIAS",
    "SCHEME",
    "TRIGGERING_BATCH_NAME",
    "TRIGGERING_BATCH_RUN_ID",
    "TRIGGERING_MIS_DATE",
    "asset_of",
    "batch_uri_of",
    "check_mis_date_policy",
    "claimed_successes",
    "convert_asset_to_openlineage",
    "create_asset",
    "emit_run_succeeded",
    "event_extra",
    "ofs_batch_asset",
    "ofs_batch_uri",
    "sanitize_uri",
    "triggering_run",
    "with_batch_asset",
    "with_runs_alias",
]
