"""Each OFS batch or batch group as an Airflow asset (a dataset on 2.x): its URI, and the event of a run that succeeded.

A batch is named by the connection that reaches its OFS and its name: ``ofs://<conn_id>/<batch_name>``, the
batch percent-encoded. Only names that a DAG file already holds go into it, so a DAG file that schedules on an
OFS batch parses with no connection defined and reads nothing (Airflow's best practice for top-level code);
the producer, which knows its connection id, emits for the same URI. ``ofs_batch_uri`` builds it,
``ofs_batch_asset`` makes the asset. The scheme is registered in the provider info (``asset-uris``,
``dataset-uris`` on 2.x) with ``sanitize_uri`` as its normaliser.

The operators and the sensor put ``OFS_RUNS_ALIAS`` in their outlets (``emit_asset_event``, on by default);
when a run they watched succeeds, ``push_outcome`` calls ``emit_run_succeeded``, which adds an event for the
batch's asset through that alias, with ``event_extra`` as its extra. Airflow records it only if the task
succeeds. ``claimed_successes`` reads the asset's events back for ``if_succeeded_for_mis_date="skip"``
(``skip_policy``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

from airflow_provider_ofs._compat import IS_AIRFLOW_2, Asset, AssetAlias
from airflow_provider_ofs.run_ids import mis_date_of_run

log = logging.getLogger(__name__)

#: The URI scheme of OFS batch assets.
SCHEME = "ofs"
#: The alias through which the operators and the sensor emit their events (a templated or mapped
#: batch name is known only when the task runs, so the asset cannot be an outlet of its own).
OFS_RUNS_ALIAS = "ofs_batch_runs"
FORM = "ofs://<conn_id>/<batch_name>"
#: The states in which a run counts as succeeded (``RunState`` names: ``DONE_WITHOUT_FAILURE``).
SUCCEEDED_STATES = frozenset({"SUCCESSFUL", "EXCLUDED"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: An Airflow connection id: letters, digits, ``_``, ``.`` and ``-`` (Airflow's own rule for keys).
_CONN_ID = re.compile(r"[A-Za-z0-9_.-]+")

_TRIGGERING = "triggering_dataset_events" if IS_AIRFLOW_2 else "triggering_asset_events"
_EVENT_ASSET = "dataset" if IS_AIRFLOW_2 else "asset"


def _newest_triggering(key: str) -> str:
    """A template of ``key`` in the extra of the newest OFS event that triggered the DAG run, as ``triggering_run``
    picks it (across every asset of the schedule); empty without one, or without the key (not Airflow's
    UndefinedError), so the sensor can name the event."""
    return (
        "{% set newest = namespace(event=none) %}"
        "{% for events in " + _TRIGGERING + ".values() %}{% for event in events %}"
        "{% if (event." + _EVENT_ASSET + ".uri ~ '').startswith('" + SCHEME + "://') and (newest.event is none "
        "or event.timestamp >= newest.event.timestamp) %}{% set newest.event = event %}{% endif %}"
        "{% endfor %}{% endfor %}"
        "{{ (newest.event.extra.get('" + key + "') if newest.event is not none else '') or '' }}"
    )


#: For a DAG scheduled on OFS batch assets: the run id, MIS date and batch of the newest event that
#: triggered the DAG run (templates for operator arguments, e.g. ``OFSBatchRunSensor(batch_run_id=...)``).
TRIGGERING_BATCH_RUN_ID = _newest_triggering("batchRunId")
TRIGGERING_MIS_DATE = _newest_triggering("misDate")
TRIGGERING_BATCH_NAME = _newest_triggering("batchName")


# ------------------------------------------------------------------------------------------------- URIs


def _batch_segment(value: Any) -> str:
    """The batch name as the URI's path, percent-encoded; a blank or control-character name raises naming it."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"OFS asset URI: batch_name must be non-empty text, not {value!r} ({FORM})")
    if value != value.strip() or _CONTROL.search(value):
        raise ValueError(f"OFS asset URI: batch_name {value!r} has surrounding blanks or control characters ({FORM})")
    return quote(value, safe="")


def _conn_id(value: Any) -> str:
    """The connection id as the URI's host part, as written (Airflow's connection ids are case-sensitive)."""
    if not isinstance(value, str) or not _CONN_ID.fullmatch(value):
        raise ValueError(
            f"OFS asset URI: conn_id must be an Airflow connection id (letters, digits, '_', '.', '-'), "
            f"not {value!r} ({FORM})"
        )
    return value


def ofs_batch_uri(conn_id: str, batch_name: str) -> str:
    """The asset URI of a batch or group reached through the connection ``conn_id`` (no I/O)."""
    return f"{SCHEME}://{_conn_id(conn_id)}/{_batch_segment(batch_name)}"


def batch_uri_of(settings: Any, batch_name: str) -> str:
    """The asset URI of ``batch_name`` on the connection whose settings these are."""
    return ofs_batch_uri(settings.conn_id, batch_name)


def asset_of(uri: str) -> Any:
    """The asset whose name is its URI (the form ``Asset("ofs://...")`` gives, so producers and consumers meet)."""
    return Asset(uri=uri)


def sanitize_uri(parts: SplitResult) -> SplitResult:
    """Airflow's normaliser for ``ofs://`` URIs: check each part (an error names it) and give the canonical form."""
    shown = urlunsplit(parts)
    if parts.query or parts.fragment:
        raise ValueError(f"OFS asset URI {shown!r}: a query or fragment is not part of the form {FORM}")
    segments = parts.path.split("/")[1:] if parts.path.startswith("/") else []
    if len(segments) != 1:
        raise ValueError(f"OFS asset URI {shown!r}: the path must be the batch name alone: {FORM}")
    try:
        canonical = ofs_batch_uri(parts.netloc, unquote(segments[0]))
    except ValueError as error:
        raise ValueError(f"OFS asset URI {shown!r}: {str(error).removeprefix('OFS asset URI: ')}") from None
    return urlsplit(canonical)


def create_asset(*, conn_id: str, batch_name: str, extra: Any = None) -> Any:
    """Airflow's asset factory for the ``ofs`` scheme (hook-level lineage builds assets through it)."""
    return Asset(uri=ofs_batch_uri(conn_id, batch_name), extra=extra)


def convert_asset_to_openlineage(asset: Any, lineage_context: Any) -> Any:
    """The OpenLineage dataset of an OFS asset: the connection as namespace, the batch as name."""
    from airflow.providers.common.compat.openlineage.facet import Dataset as OpenLineageDataset

    parts = urlsplit(asset.uri)
    return OpenLineageDataset(namespace=f"{SCHEME}://{parts.netloc}", name=unquote(parts.path.lstrip("/")))


# ----------------------------------------------------------------------------------------------- events


def _listed(ports: Any) -> list[Any]:
    """A task's inlets or outlets as a new list (Airflow takes one object, a list or a tuple)."""
    if ports is None:
        return []
    return list(ports) if isinstance(ports, (list, tuple)) else [ports]


def with_runs_alias(outlets: Any) -> list[Any]:
    """A task's outlets with ``OFS_RUNS_ALIAS`` added (once)."""
    listed = _listed(outlets)
    if not any(isinstance(o, AssetAlias) and o.name == OFS_RUNS_ALIAS for o in listed):
        listed.append(AssetAlias(name=OFS_RUNS_ALIAS))
    return listed


def with_batch_asset(ports: Any, conn_id: Any, batch_name: Any) -> list[Any]:
    """A task's inlets or outlets with its batch's asset added (once), when the connection id and batch name are
    plain text (a templated or mapped name is known only when the task runs, and is left to the alias).

    Airflow registers the assets of a task's inlets and outlets where it parses the DAG file. Emitted only
    through the alias, a batch's asset is created by its first event and linked to the alias by it, and two
    tasks that emit that first event at once (the night's scheduled run and a run triggered by hand) fail one
    of them: Airflow inserts the asset, or the link, twice. So the operators list the asset among their
    outlets and emit through it (``emit_run_succeeded``); the sensor, which must not announce a run its DAG
    run was triggered for, lists it among its inlets, which only registers it.
    """
    from airflow_provider_ofs.arguments import is_template

    listed = _listed(ports)
    if is_template(conn_id) or is_template(batch_name):
        return listed
    try:
        uri = ofs_batch_uri(conn_id, batch_name)
    except ValueError:  # the operator names a bad batch name itself
        return listed
    if not any(getattr(port, "uri", None) == uri for port in listed):
        listed.append(asset_of(uri))
    return listed


def without_batch_assets(outlets: Any) -> list[Any]:
    """A task's outlets without OFS batch assets: a run a person accepted as done (``recovery``) announces nothing."""
    return [
        o
        for o in _listed(outlets)
        if isinstance(o, AssetAlias) or not str(getattr(o, "uri", "")).startswith(f"{SCHEME}://")
    ]


def emits_events(task: Any) -> bool:
    """Whether ``task`` has ``OFS_RUNS_ALIAS`` among its outlets (``emit_asset_event``)."""
    return any(isinstance(o, AssetAlias) and o.name == OFS_RUNS_ALIAS for o in getattr(task, "outlets", None) or ())


def event_extra(
    run_id: str,
    batch_name: str,
    outcome: Any,
    mis_date: str | None,
    monitor_url: str | None,
    recovery: str | None = None,
) -> dict[str, Any]:
    """The extra of a succeeded run's event: what a consumer needs (``misDate``, ``monitorUrl`` only when known),
    and ``recovery``, who chose the Restart or Rerun that led to it, when a person did (``recovery=``).

    Text values only: Airflow 2.11 and 3.0 hash the extra (``frozenset(extra.items())``), so a list or a mapping
    in it would fail the producing task; a group's child runs are in its XCom ``batch_child_runs``.
    """
    extra: dict[str, Any] = {"batchRunId": run_id, "batchName": batch_name, "state": outcome.state}
    if mis_date:
        extra["misDate"] = mis_date
    if monitor_url:
        extra["monitorUrl"] = monitor_url
    if recovery:
        extra["recovery"] = recovery
    return extra


def _triggering_events(context: Any) -> Any:
    """The context's triggering events, read only for a DAG run that assets triggered (else ``None``).

    Airflow 2.11 loads them lazily from the database, which fails under ``airflow dags test``; a run of
    another type has none anyway.
    """
    run_type = getattr(context.get("dag_run"), "run_type", None)
    run_type = str(getattr(run_type, "value", run_type) or "")
    if not run_type.endswith(("asset_triggered", "dataset_triggered")):
        return None
    return context.get(_TRIGGERING)


def _triggering_extras(context: Any, uri: str) -> Iterator[Mapping[str, Any]]:
    """The extras of the events for ``uri`` that triggered this DAG run (none for a run not triggered by assets)."""
    events = _triggering_events(context)
    if not events:
        return
    for key in list(events):
        for event in events[key]:
            asset = getattr(event, "asset", None) or getattr(event, "dataset", None)
            if getattr(asset, "uri", None) == uri and isinstance(event.extra, Mapping):
                yield event.extra


def triggering_run(context: Any) -> dict[str, Any] | None:
    """The extra of the newest OFS event that triggered this DAG run (``batchRunId``, ``misDate``, ...), or ``None``.

    For a task of a DAG scheduled on OFS batch assets; ``None`` in a DAG run started otherwise (by hand, say).
    """
    events = _triggering_events(context)
    newest: Any = None
    for key in list(events or ()):
        for event in events[key]:
            asset = getattr(event, "asset", None) or getattr(event, "dataset", None)
            is_ofs = str(getattr(asset, "uri", "")).startswith(f"{SCHEME}://") and isinstance(event.extra, Mapping)
            if is_ofs and (newest is None or event.timestamp >= newest.timestamp):
                newest = event
    return dict(newest.extra) if newest is not None else None


def emit_run_succeeded(task: Any, context: Any, outcome: Any) -> None:
    """Add the event of a succeeded run to the task's outlet events, through ``OFS_RUNS_ALIAS``.

    Nothing when the run did not succeed, the task does not emit (``emit_asset_event=False``), the task
    watched only some tasks of the run, or this DAG run was triggered by an event for that same run
    (a DAG scheduled on the batch that watches the run it was told about does not announce it again).
    """
    run_id = getattr(task, "watched_run_id", None)
    batch_name = getattr(task, "batch_name", None)
    if outcome.state not in SUCCEEDED_STATES or not run_id or not batch_name or not emits_events(task):
        return
    if getattr(task, "tasks", None):
        task.log.info("Watched some tasks of OFS run %s only: no asset event for %s", run_id, batch_name)
        return
    from airflow_provider_ofs.arguments import mis_date_text
    from airflow_provider_ofs.recovery import last_answer

    try:
        uri = batch_uri_of(task.hook.settings, batch_name)
    except ValueError as error:  # the run succeeded: say why no event, never fail the task for it
        task.log.warning("No asset event for OFS run %s: %s", run_id, error)
        return
    if any(extra.get("batchRunId") == run_id for extra in _triggering_extras(context, uri)):
        task.log.info("OFS run %s was announced by the event that triggered this DAG run: not announced again", run_id)
        return
    extra = event_extra(
        run_id,
        batch_name,
        outcome,
        mis_date_text(getattr(task, "mis_date", None)) or mis_date_of_run(run_id, batch_name),
        task.hook.monitor_url(run_id, batch_name),
        last_answer(getattr(task, "recovery_answers", None)),
    )
    outlet_events = context.get("outlet_events")
    if outlet_events is None:  # not run by Airflow (a test calling execute with a context of its own)
        return
    if any(not isinstance(port, AssetAlias) and getattr(port, "uri", None) == uri for port in task.outlets):
        outlet_events[asset_of(uri)].extra = extra  # an outlet of the task: Airflow emits it when the task succeeds
    else:
        if IS_AIRFLOW_2:
            _register_alias_on_airflow_2()
        outlet_events[AssetAlias(name=OFS_RUNS_ALIAS)].add(asset_of(uri), extra=extra)
    task.log.info("Asset event for %s: OFS run %s %s", uri, run_id, outcome.state)


def _register_alias_on_airflow_2() -> None:
    """Make sure the alias exists in Airflow 2's database, where ``dags test`` has not registered it.

    Airflow 2.11 links each event to its alias's row and fails the task when there is none; the DAG
    processor registers it, ``airflow dags test`` does not.
    """
    from airflow.models.dataset import DatasetAliasModel
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError, SQLAlchemyError

    try:
        with create_session() as session:
            if session.scalar(select(DatasetAliasModel).where(DatasetAliasModel.name == OFS_RUNS_ALIAS)) is None:
                session.add(DatasetAliasModel(name=OFS_RUNS_ALIAS))
    except IntegrityError:  # registered meanwhile by another task or the DAG processor
        pass
    except SQLAlchemyError as error:  # Airflow itself will say what is wrong with its database
        log.debug("Could not register asset alias %s: %s", OFS_RUNS_ALIAS, error)


# ------------------------------------------------------------------------------------- earlier events


def _events_of(asset: Any) -> Iterable[Any]:
    """Every stored event of ``asset``, oldest first, through Airflow's inlet-events accessor."""
    if IS_AIRFLOW_2:
        from airflow.utils.context import InletEventsAccessors  # type: ignore[attr-defined]
        from airflow.utils.session import create_session

        with create_session() as session:
            return list(InletEventsAccessors([asset], session=session)[asset])
    from airflow.sdk.execution_time.context import InletEventsAccessors as SdkInletEventsAccessors

    return list(SdkInletEventsAccessors([asset])[asset])


#: The values of the trigger operator's ``if_succeeded_for_mis_date``.
MIS_DATE_POLICIES = ("run", "skip")


def check_mis_date_policy(policy: Any, mis_date: Any) -> None:
    """A policy other than ``run``/``skip``, or ``skip`` without a ``mis_date``, raises naming the argument."""
    if policy not in MIS_DATE_POLICIES:
        raise ValueError(f"if_succeeded_for_mis_date must be 'run' or 'skip', not {policy!r}")
    if policy == "skip" and mis_date in (None, ""):
        raise ValueError("if_succeeded_for_mis_date='skip' needs a mis_date: it looks for a run of that MIS date")


def claimed_successes(asset: Any, mis_date: str) -> list[Any]:
    """The stored events of ``asset`` that say a run of ``mis_date`` succeeded, newest first (claims, unchecked)."""
    claims = []
    for event in reversed(list(_events_of(asset))):
        extra = event.extra if isinstance(event.extra, Mapping) else {}
        if extra.get("misDate") == mis_date and extra.get("state", "") in SUCCEEDED_STATES:
            claims.append(event)
    return claims


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
    "ofs_batch_uri",
    "sanitize_uri",
    "triggering_run",
    "with_batch_asset",
    "with_runs_alias",
]
