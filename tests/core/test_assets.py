"""OFS batch assets: the URI and its normaliser (through Airflow's own ``Asset``), and the event of a succeeded run."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import pytest

from airflow_provider_ofs._compat import IS_AIRFLOW_2, Asset, AssetAlias
from airflow_provider_ofs.assets import (
    OFS_RUNS_ALIAS,
    TRIGGERING_BATCH_NAME,
    TRIGGERING_BATCH_RUN_ID,
    TRIGGERING_MIS_DATE,
    batch_uri_of,
    check_mis_date_policy,
    convert_asset_to_openlineage,
    emit_run_succeeded,
    event_extra,
    ofs_batch_asset,
    ofs_batch_uri,
    sanitize_uri,
    triggering_run,
)
from airflow_provider_ofs.published import RunOutcome


def test_the_uri_names_the_connection_and_the_batch() -> None:
    assert ofs_batch_uri("ofs_scheduler_default", "EOD_LOAD") == "ofs://ofs_scheduler_default/EOD_LOAD"
    assert ofs_batch_uri("OFS.Prod-1", "EOD") == "ofs://OFS.Prod-1/EOD"  # connection ids are case-sensitive


def test_a_name_with_a_slash_or_a_blank_is_one_segment() -> None:
    assert ofs_batch_uri("ofs_prod", "EOD/LOAD 2") == "ofs://ofs_prod/EOD%2FLOAD%202"


@pytest.mark.parametrize("value", ["", "   ", None, " padded", "line\nbreak"])
def test_a_bad_batch_name_is_named(value: Any) -> None:
    with pytest.raises(ValueError, match="OFS asset URI: batch_name "):
        ofs_batch_uri("ofs_prod", value)


@pytest.mark.parametrize("conn_id", ["", None, "with space", "user@host", "host:443", "a/b"])
def test_a_bad_connection_id_is_named(conn_id: Any) -> None:
    with pytest.raises(ValueError, match="OFS asset URI: conn_id must be an Airflow connection id"):
        ofs_batch_uri(conn_id, "EOD")


def test_the_normaliser_gives_the_helpers_form() -> None:
    built = ofs_batch_uri("ofs_prod", "EOD LOAD")
    assert sanitize_uri(urlsplit(built)).geturl() == built
    assert sanitize_uri(urlsplit("ofs://ofs_prod/EOD LOAD")).geturl() == built


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ofs://ofs_prod/T1/EOD", "the path must be the batch name alone"),
        ("ofs://ofs_prod/", "batch_name must be non-empty"),
        ("ofs://ofs_prod/EOD?x=1", "a query or fragment is not part of the form"),
        ("ofs://user@ofs_prod/EOD", "conn_id must be an Airflow connection id"),
        ("ofs://host.example.com:443/EOD", "conn_id must be an Airflow connection id"),
    ],
)
def test_the_normaliser_names_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        sanitize_uri(urlsplit(text))


def test_airflow_normalises_ofs_uris_with_the_registered_handler() -> None:
    """The provider info's ``asset-uris`` (``dataset-uris`` on 2.x) entry reaches Airflow's ``Asset``."""
    assert Asset(uri="ofs://ofs_prod/EOD LOAD").uri == "ofs://ofs_prod/EOD%20LOAD"
    if not IS_AIRFLOW_2:  # Airflow 2.11 only warns about a URI its normaliser refuses
        with pytest.raises(ValueError, match="the path must be the batch name alone"):
            Asset(uri="ofs://ofs_prod/T1/EOD")


def test_the_asset_helper_needs_no_connection_and_reads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A DAG file's top-level code: no connection is defined, and none may be read."""
    from airflow_provider_ofs.hooks import scheduler

    def no_reading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("ofs_batch_asset read a connection")

    monkeypatch.setattr(scheduler.OFSSchedulerHook, "get_connection", no_reading)
    asset = ofs_batch_asset("EOD_LOAD")
    assert asset.uri == "ofs://ofs_scheduler_default/EOD_LOAD"
    assert ofs_batch_asset("EOD_LOAD", ofs_conn_id="ofs_prod").uri == "ofs://ofs_prod/EOD_LOAD"
    if not IS_AIRFLOW_2:
        assert asset.name == asset.uri  # as Asset("ofs://...") names it, so a consumer's asset is the same


def test_the_producer_emits_for_the_uri_the_consumer_helper_names(ofs_connection: Any) -> None:
    from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

    assert batch_uri_of(OFSSchedulerHook().settings, "EOD_LOAD") == ofs_batch_asset("EOD_LOAD").uri


def test_openlineage_names_the_batch_on_its_connection() -> None:
    pytest.importorskip("airflow.providers.openlineage")
    dataset = convert_asset_to_openlineage(Asset(uri=ofs_batch_uri("ofs_prod", "EOD LOAD")), None)
    assert (dataset.namespace, dataset.name) == ("ofs://ofs_prod", "EOD LOAD")


def test_the_extra_carries_mis_date_and_link_only_when_known() -> None:
    outcome = RunOutcome("SUCCESSFUL", (), (("C1", "SUCCESSFUL"),))
    assert event_extra("R1", "EOD", outcome, None, None) == {
        "batchRunId": "R1",
        "batchName": "EOD",
        "state": "SUCCESSFUL",
    }
    full = event_extra("R1", "EOD", outcome, "2026-03-31", "https://m/R1")
    assert (full["misDate"], full["monitorUrl"]) == ("2026-03-31", "https://m/R1")


def test_the_extra_of_a_group_can_be_hashed_as_airflow_2_11_and_3_0_hash_it() -> None:
    outcome = RunOutcome("SUCCESSFUL", (), tuple((f"C{i}", "SUCCESSFUL") for i in range(150)))
    extra = event_extra("R1", "EOD_GROUP", outcome, "2026-03-31", "https://m/R1")
    assert frozenset(extra.items())  # what Airflow 3.0's register_asset_changes_in_db does with it


def test_the_mis_date_policy_is_checked_by_name() -> None:
    check_mis_date_policy("run", None)
    check_mis_date_policy("skip", "{{ ds }}")
    with pytest.raises(ValueError, match="if_succeeded_for_mis_date must be 'run' or 'skip', not 'never'"):
        check_mis_date_policy("never", "2026-03-31")
    with pytest.raises(ValueError, match="needs a mis_date"):
        check_mis_date_policy("skip", None)


# ---------------------------------------------------------------------------------------------- emission


def outlet_events() -> Any:
    if IS_AIRFLOW_2:
        from airflow.utils.context import OutletEventAccessors
    else:
        from airflow.sdk.execution_time.context import OutletEventAccessors
    return OutletEventAccessors()


def added(events: Any, task: Any = None) -> list[tuple[str, dict[str, Any]]]:
    """(asset URI, extra) of each event added through the alias, then of each of ``task``'s outlet assets given
    an extra (Airflow records those when the task succeeds)."""
    accessor = events[AssetAlias(name=OFS_RUNS_ALIAS)]
    if IS_AIRFLOW_2:
        found = [(e["dest_dataset_uri"], dict(e["extra"])) for e in accessor.dataset_alias_events]
    else:
        found = [(e.dest_asset_key.uri, e.extra) for e in accessor.asset_alias_events]
    outlets = [port for port in getattr(task, "outlets", ()) if not isinstance(port, AssetAlias)]
    return found + [(port.uri, dict(events[port].extra)) for port in outlets if events[port].extra]


def trigger_operator(**kwargs: Any) -> Any:
    from airflow_provider_ofs.operators.batch import OFSTriggerBatchOperator

    kwargs.setdefault("batch_name", "EOD")
    operator = OFSTriggerBatchOperator(task_id="eod", mis_date="2026-03-31", **kwargs)
    operator.watched_run_id = "R1"
    return operator


def test_a_succeeded_run_of_a_batch_named_in_the_dag_adds_one_event_through_the_batchs_outlet(
    ofs_connection: Any,
) -> None:
    """Not through the alias: its first event for a batch, emitted by two tasks at once, failed one of them."""
    operator = trigger_operator()
    uri = batch_uri_of(operator.hook.settings, "EOD")
    assert [getattr(o, "uri", None) or o.name for o in operator.outlets] == [OFS_RUNS_ALIAS, uri]
    events = outlet_events()
    emit_run_succeeded(operator, {"outlet_events": events}, RunOutcome("SUCCESSFUL"))
    [(asset_uri, extra)] = added(events, operator)
    assert asset_uri == uri
    assert (extra["batchRunId"], extra["misDate"], extra["state"]) == ("R1", "2026-03-31", "SUCCESSFUL")


def test_a_templated_batch_name_adds_its_event_through_the_alias(ofs_connection: Any) -> None:
    operator = trigger_operator(batch_name="{{ params.batch }}")
    operator.batch_name = "EOD"  # rendered
    assert [getattr(o, "uri", None) or o.name for o in operator.outlets] == [OFS_RUNS_ALIAS]
    events = outlet_events()
    emit_run_succeeded(operator, {"outlet_events": events}, RunOutcome("SUCCESSFUL"))
    [(asset_uri, extra)] = added(events)
    assert asset_uri == batch_uri_of(operator.hook.settings, "EOD")
    assert extra["batchRunId"] == "R1"


@pytest.mark.parametrize(
    ("verb", "run_id", "mis_date"),
    [
        ("restart", "EOD_2026-03-31_1790000000000_1", "2026-03-31"),
        ("rerun", "EOD_2026-03-30_1790000000000_2", "2026-03-30"),
        ("rerun", "EOD_DAILY_2026-03-31_1790000000000_1", None),  # another batch's form
        ("restart", "opaque-run-id", None),
    ],
)
def test_restart_and_rerun_events_carry_the_mis_date_ofs_put_in_the_run_id(
    ofs_connection: Any, verb: str, run_id: str, mis_date: str | None
) -> None:
    """So that a MIS date whose first run failed and was restarted to success is seen by the skip policy."""
    from airflow_provider_ofs.operators.batch import OFSRerunBatchOperator, OFSRestartBatchOperator

    kind = OFSRestartBatchOperator if verb == "restart" else OFSRerunBatchOperator
    operator = kind(task_id=verb, batch_name="EOD", batch_run_id="EOD_2026-03-31_1790000000000_1")
    operator.watched_run_id = run_id
    events = outlet_events()

    emit_run_succeeded(operator, {"outlet_events": events}, RunOutcome("SUCCESSFUL"))

    [(_, extra)] = added(events, operator)
    assert extra.get("misDate") == mis_date


@pytest.mark.parametrize("state", ["FAILED", "INTERRUPTED", "ABORTED", None])
def test_a_run_that_did_not_succeed_adds_none(ofs_connection: Any, state: str | None) -> None:
    events = outlet_events()
    operator = trigger_operator()
    emit_run_succeeded(operator, {"outlet_events": events}, RunOutcome(state))
    assert added(events, operator) == []


def test_without_emit_asset_event_or_for_fire_and_forget_there_is_no_alias_and_no_event(ofs_connection: Any) -> None:
    for operator in (trigger_operator(emit_asset_event=False), trigger_operator(wait_for_completion=False)):
        assert not any(isinstance(o, AssetAlias) for o in operator.outlets)
        events = outlet_events()
        emit_run_succeeded(operator, {"outlet_events": events}, RunOutcome("SUCCESSFUL"))
        assert added(events) == []


def test_a_sensor_watching_some_tasks_or_without_a_batch_name_adds_none(ofs_connection: Any) -> None:
    from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor

    for sensor in (
        OFSBatchRunSensor(task_id="s1", batch_run_id="R1", batch_name="EOD", tasks=["T1"]),
        OFSBatchRunSensor(task_id="s2", batch_run_id="R1"),
    ):
        sensor.watched_run_id = "R1"
        events = outlet_events()
        emit_run_succeeded(sensor, {"outlet_events": events}, RunOutcome("SUCCESSFUL"))
        assert added(events) == []


class _Event:
    def __init__(self, uri: str, extra: dict[str, Any]) -> None:
        self.asset = self.dataset = type("A", (), {"uri": uri})()
        self.extra = extra


def test_a_run_announced_by_the_triggering_event_is_not_announced_again(ofs_connection: Any) -> None:
    """A sensor in a DAG scheduled on the batch, watching the run the event named (the handoff)."""
    from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor

    operator = OFSBatchRunSensor(task_id="watch", batch_run_id="{{ run }}", batch_name="EOD")
    operator.watched_run_id = "R1"
    uri_of_eod = batch_uri_of(operator.hook.settings, "EOD")
    key = "triggering_dataset_events" if IS_AIRFLOW_2 else "triggering_asset_events"
    for run_id, expected in (("R1", 0), ("R0", 1)):  # the same run: none; another run of the batch: one
        events = outlet_events()
        dag_run = type("DagRun", (), {"run_type": "dataset_triggered" if IS_AIRFLOW_2 else "asset_triggered"})()
        triggering = {uri_of_eod: [_Event(uri_of_eod, {"batchRunId": run_id})]}
        context = {"outlet_events": events, "dag_run": dag_run, key: triggering}
        emit_run_succeeded(operator, context, RunOutcome("SUCCESSFUL"))
        assert len(added(events)) == expected


def test_a_mapped_operator_has_the_alias_among_its_outlets_where_the_dag_is_parsed() -> None:
    from airflow_provider_ofs.operators.batch import OFSTriggerBatchOperator

    with_alias = OFSTriggerBatchOperator.partial(task_id="load").expand(batch_name=["A", "B"])
    without = OFSTriggerBatchOperator.partial(task_id="quiet", emit_asset_event=False).expand(batch_name=["A"])
    assert [o.name for o in with_alias.outlets if isinstance(o, AssetAlias)] == [OFS_RUNS_ALIAS]
    assert not any(isinstance(o, AssetAlias) for o in without.outlets)


class TriggeringEvent:
    """An event of ``triggering_asset_events`` (``triggering_dataset_events`` on 2.x): its asset, extra and time."""

    def __init__(self, uri: str, extra: dict[str, Any], timestamp: datetime) -> None:
        self.asset = self.dataset = Asset(uri=uri)
        self.extra = extra
        self.timestamp = timestamp


def test_the_triggering_templates_render_the_newest_ofs_event_as_triggering_run_returns_it() -> None:
    """Two OFS batches in a schedule: the older event's asset comes first, the newer run is the one meant."""
    from airflow.providers.common.compat.sdk import DAG

    from airflow_provider_ofs._compat import BaseOperator

    with DAG("t", schedule=None, start_date=datetime(2026, 1, 1)):
        task = BaseOperator(task_id="t")
    at = datetime(2026, 3, 31, 2, tzinfo=timezone.utc)
    older = TriggeringEvent(
        "ofs://ofs_prod/FIRST", {"batchRunId": "FIRST_1", "misDate": "2026-03-30", "batchName": "FIRST"}, at
    )
    newer = TriggeringEvent(
        "ofs://ofs_prod/SECOND", {"batchRunId": "SECOND_1", "batchName": "SECOND"}, at + timedelta(1)
    )
    later_but_not_ofs = TriggeringEvent("s3://bucket/file", {"batchRunId": "NOT_OFS"}, at + timedelta(2))
    key = "triggering_dataset_events" if IS_AIRFLOW_2 else "triggering_asset_events"
    run = type("DagRun", (), {"run_type": "asset_triggered"})()
    context: dict[str, Any] = {
        key: {
            "ofs://ofs_prod/FIRST": [older],
            "ofs://ofs_prod/SECOND": [newer],
            "s3://bucket/file": [later_but_not_ofs],
        },
        "dag_run": run,
    }

    rendered = [
        task.render_template(template, context)
        for template in (TRIGGERING_BATCH_RUN_ID, TRIGGERING_BATCH_NAME, TRIGGERING_MIS_DATE)
    ]

    assert rendered == ["SECOND_1", "SECOND", ""]  # the newest event has no misDate: empty, not the older one's
    assert triggering_run(context) == newer.extra
    assert task.render_template(TRIGGERING_BATCH_RUN_ID, {key: {}, "dag_run": run}) == ""
