"""OFS batch assets: the URI and its normaliser (through Airflow's own ``Asset``), and the event of a succeeded run."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from airflow_provider_ofs._compat import IS_AIRFLOW_2, Asset, AssetAlias
from airflow_provider_ofs.assets import (
    OFS_RUNS_ALIAS,
    batch_uri_of,
    check_mis_date_policy,
    convert_asset_to_openlineage,
    emit_run_succeeded,
    event_extra,
    ofs_batch_asset,
    ofs_batch_uri,
    sanitize_uri,
)
from airflow_provider_ofs.published import RunOutcome

PARTS = {"tenant_id": "T1", "service_id": "SVC", "workspace_id": "WS001", "batch_name": "EOD_LOAD"}


def uri(host: str = "https://ofs.example.com/app", **parts: Any) -> str:
    return ofs_batch_uri(host, **{**PARTS, **parts})


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("https://OFS.Example.com/app", "ofs.example.com"),  # a base URL: its host, lower-cased
        ("https://ofs.example.com:443", "ofs.example.com"),  # the scheme's default port dropped
        ("http://127.0.0.1:8080/app", "127.0.0.1:8080"),
        ("ofs.example.com:9443", "ofs.example.com:9443"),  # a bare host
        ("https://[::1]:9443/app", "[::1]:9443"),
    ],
)
def test_the_uri_names_host_tenant_service_workspace_and_batch(host: str, expected: str) -> None:
    assert uri(host) == f"ofs://{expected}/T1/SVC/WS001/EOD_LOAD"


def test_a_name_with_a_slash_or_a_blank_is_one_segment() -> None:
    assert uri(batch_name="EOD/LOAD 2") == "ofs://ofs.example.com/T1/SVC/WS001/EOD%2FLOAD%202"


@pytest.mark.parametrize("field", ["tenant_id", "service_id", "workspace_id", "batch_name"])
@pytest.mark.parametrize("value", ["", "   ", None, " padded", "line\nbreak"])
def test_a_bad_part_is_named(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"OFS asset URI: {field} "):
        uri(**{field: value})


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("", "host must be non-empty"),
        ("https://user:pw@ofs.example.com", "must not carry a user"),
        ("https://ofs.example.com:99999", "invalid port"),
        ("https://bad host", "not a host name"),
    ],
)
def test_a_bad_host_is_named(host: str, says: str) -> None:
    with pytest.raises(ValueError, match=f"OFS asset URI: host .*{says}|OFS asset URI: {says}"):
        uri(host)


def test_the_normaliser_gives_the_helpers_form() -> None:
    built = uri(batch_name="EOD LOAD")
    assert sanitize_uri(urlsplit(built)).geturl() == built
    assert sanitize_uri(urlsplit("ofs://OFS.example.com:443/T1/SVC/WS001/EOD%20LOAD")).geturl() == (
        "ofs://ofs.example.com:443/T1/SVC/WS001/EOD%20LOAD"  # no scheme to tell the default port by
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ofs://h/T1/SVC/EOD", "the path has 3 segments, expected 4"),
        ("ofs://h/T1/SVC/WS001/EOD/MORE", "the path has 5 segments"),
        ("ofs://h/T1//WS001/EOD", "service_id must be non-empty"),
        ("ofs://h/T1/SVC/WS001/EOD?x=1", "a query is not part of the form"),
        ("ofs://user@h/T1/SVC/WS001/EOD", "host must not carry a user"),
    ],
)
def test_the_normaliser_names_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        sanitize_uri(urlsplit(text))


def test_airflow_normalises_ofs_uris_with_the_registered_handler() -> None:
    """The provider info's ``asset-uris`` (``dataset-uris`` on 2.x) entry reaches Airflow's ``Asset``."""
    assert Asset(uri="ofs://OFS.Example.com/T1/SVC/WS001/EOD").uri == "ofs://ofs.example.com/T1/SVC/WS001/EOD"
    if not IS_AIRFLOW_2:  # Airflow 2.11 only warns about a URI its normaliser refuses
        with pytest.raises(ValueError, match="expected 4"):
            Asset(uri="ofs://ofs.example.com/T1/EOD")


def test_the_connection_helper_reads_the_deployment_from_the_connection(ofs_connection: Any) -> None:
    asset = ofs_batch_asset("EOD_LOAD")
    extra = ofs_connection.connection_dict()["extra"]
    host = urlsplit(ofs_connection.base_url).netloc
    assert asset.uri == f"ofs://{host}/{extra['tenant_id']}/{extra['service_id']}/WS001/EOD_LOAD"
    if not IS_AIRFLOW_2:
        assert asset.name == asset.uri  # as Asset("ofs://...") names it, so a consumer's asset is the same


def test_openlineage_names_the_batch_in_its_workspace() -> None:
    pytest.importorskip("airflow.providers.openlineage")
    dataset = convert_asset_to_openlineage(Asset(uri=uri(batch_name="EOD LOAD")), None)
    assert (dataset.namespace, dataset.name) == ("ofs://ofs.example.com/T1/SVC/WS001", "EOD LOAD")


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


def added(events: Any) -> list[tuple[str, dict[str, Any]]]:
    """(asset URI, extra) of each event added through the alias."""
    accessor = events[AssetAlias(name=OFS_RUNS_ALIAS)]
    if IS_AIRFLOW_2:
        return [(e["dest_dataset_uri"], dict(e["extra"])) for e in accessor.dataset_alias_events]
    return [(e.dest_asset_key.uri, e.extra) for e in accessor.asset_alias_events]


def trigger_operator(**kwargs: Any) -> Any:
    from airflow_provider_ofs.operators.batch import OFSTriggerBatchOperator

    operator = OFSTriggerBatchOperator(task_id="eod", batch_name="EOD", mis_date="2026-03-31", **kwargs)
    operator.watched_run_id = "R1"
    return operator


def test_a_succeeded_run_adds_one_event_through_the_alias(ofs_connection: Any) -> None:
    operator = trigger_operator()
    assert [o.name for o in operator.outlets if isinstance(o, AssetAlias)] == [OFS_RUNS_ALIAS]
    events = outlet_events()
    emit_run_succeeded(operator, {"outlet_events": events}, RunOutcome("SUCCESSFUL"))
    [(asset_uri, extra)] = added(events)
    assert asset_uri == batch_uri_of(operator.hook.settings, "EOD")
    assert (extra["batchRunId"], extra["misDate"], extra["state"]) == ("R1", "2026-03-31", "SUCCESSFUL")


@pytest.mark.parametrize("state", ["FAILED", "INTERRUPTED", "ABORTED", None])
def test_a_run_that_did_not_succeed_adds_none(ofs_connection: Any, state: str | None) -> None:
    events = outlet_events()
    emit_run_succeeded(trigger_operator(), {"outlet_events": events}, RunOutcome(state))
    assert added(events) == []


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
    operator = trigger_operator()
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
