"""Token endpoint, bearer tokens, header and body checks, through HTTP (ESI-NOTES 1, 3, 4, 5, 13)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import requests
from esi_sim_support import EsiClient

from airflow_provider_ofs.simulator import Simulator


# ------------------------------------------------------------------ token endpoint
def test_password_grant_answer(esi: EsiClient, sim: Simulator) -> None:
    response = esi.get_token()
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"]
    assert body["refresh_token"]
    assert body["access_token"] != esi.token  # random, opaque
    assert sim.journal.token_requests("password") == 2


def test_wrong_client_is_invalid_client(esi: EsiClient) -> None:
    response = esi.get_token(auth=("cid-7Q2", "wrong"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    no_auth = requests.post(esi.sim.token_url, data={"grant_type": "password"}, timeout=10)
    assert no_auth.status_code == 401
    assert no_auth.json()["error"] == "invalid_client"


def test_wrong_user_is_invalid_grant(esi: EsiClient) -> None:
    response = esi.get_token(password="nope")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_unsupported_grant(esi: EsiClient) -> None:
    response = esi.get_token(grant="client_credentials")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_refresh_token_rotates(esi: EsiClient, sim: Simulator) -> None:
    first = esi.get_token().json()
    refreshed = esi.get_token("refresh_token", refresh_token=first["refresh_token"])
    assert refreshed.status_code == 200
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    reused = esi.get_token("refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    unknown = esi.get_token("refresh_token", refresh_token="made-up")
    assert unknown.json()["error"] == "invalid_grant"
    sim.revoke_refresh_tokens()
    revoked = esi.get_token("refresh_token", refresh_token=second["refresh_token"])
    assert revoked.json()["error"] == "invalid_grant"
    assert sim.journal.token_requests("refresh_token") == 4


# ------------------------------------------------------------------ bearer tokens (ESI-NOTES 13)
def test_missing_unknown_and_expired_tokens_get_401(esi: EsiClient, sim: Simulator) -> None:
    body = {"batchRunId": "whatever"}
    assert esi.post("status", body, Authorization=None).status_code == 401
    unknown = esi.post("status", body, Authorization="Bearer not-a-token")
    assert unknown.status_code == 401
    assert unknown.json()["error"] == "invalid_token"
    assert esi.post("status", body).status_code == 404  # the token works: -3 for the unknown run
    sim.expire_tokens()
    assert esi.post("status", body).status_code == 401
    esi.token = esi.get_token().json()["access_token"]
    assert esi.post("status", body).status_code == 404


def test_token_lifetime_is_wall_clock(ofs_simulator_factory: Callable[..., Simulator]) -> None:
    sim = ofs_simulator_factory(token_lifetime=2, speed=1000)
    esi = EsiClient(sim)
    answer = esi.get_token().json()
    esi.token = answer["access_token"]
    assert answer["expires_in"] == 2
    assert esi.post("status", {"batchRunId": "x"}).status_code == 404
    time.sleep(2.2)
    assert esi.post("status", {"batchRunId": "x"}).status_code == 401


# ------------------------------------------------------------------ headers: -5
@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("ofs_tenant_id", None),
        ("ofs_tenant_id", "OTHER"),
        ("ofs_service_id", None),
        ("ofs_workspace_id", None),
        ("ofs_workspace_id", "WS001"),  # this simulator expects WS009
        ("ofs_remote_user", None),
        ("ofs_remote_user", "someone_else"),
        ("locale", None),
        ("locale", "english"),
    ],
)
def test_bad_headers_are_minus_5(esi: EsiClient, header: str, value: str | None) -> None:
    run_id = esi.trigger("QUICK")
    response = esi.post("status", {"batchRunId": run_id}, **{header: value})
    assert response.status_code == 400
    body = response.json()
    assert body["statusCode"] == "-5"
    assert body["status"] == "error"
    assert body["severity"] == "error"
    assert header in body["details"]


# ------------------------------------------------------------------ body: -4, names: -3
@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        {"batchType": "rest"},
        {"batchName": "QUICK"},
        {"batchName": "QUICK", "batchType": "batch"},  # ESI-NOTES 4: the wire says "rest"
        {"batchName": "QUICK", "batchType": "rest", "excludedTasks": ["A"]},
        {"batchName": "QUICK", "batchType": "rest", "dynamicParamList": {"batchParams": {}}},  # ESI-NOTES 5
        {"batchName": "QUICK", "batchType": "rest", "dynamicParamList": "{not json"},
        {"batchName": "QUICK", "batchType": "rest", "dynamicParamList": '{"$FICMISDATE$": "2024-01-31"}'},
        {"batchName": "QUICK", "batchType": "rest", "dynamicParamList": '{"batchParams": {"$FICMISDATE$": "31/01"}}'},
        {"batchName": "QUICK", "batchType": "rest", "excludedTasks": "A", "heldTasks": "A"},
        {"batchName": "G_OK", "batchType": "group", "dynamicParamList": '{"batchParams": {}}'},
    ],
)
def test_invalid_trigger_bodies_are_minus_4(esi: EsiClient, body: object) -> None:
    response = esi.post("trigger", body)
    assert response.status_code == 400
    assert response.json()["statusCode"] == "-4"


def test_wrong_content_type_is_minus_4(esi: EsiClient) -> None:
    response = esi.post("trigger", {"batchName": "QUICK", "batchType": "rest"}, **{"Content-Type": "text/plain"})
    assert response.json()["statusCode"] == "-4"


@pytest.mark.parametrize(
    "body",
    [
        {"batchName": "NO_SUCH_BATCH", "batchType": "rest"},
        {"batchName": "G_OK", "batchType": "rest"},  # a group sent as a batch
        {"batchName": "QUICK", "batchType": "group"},  # a batch sent as a group
        {"batchName": "QUICK", "batchType": "rest", "excludedTasks": "A,ZZZ"},
        {"batchName": "QUICK", "batchType": "rest", "heldTasks": "ZZZ"},
        {"batchName": "G_OK", "batchType": "group", "excludedTasks": "FAILING"},
        {"batchName": "QUICK", "batchType": "rest", "dynamicParamList": '{"taskRuntimeParams": {"ZZZ": {}}}'},
        {"batchName": "G_OK", "batchType": "group", "dynamicParamList": '[{"batchName": "LONG", "batchParams": {}}]'},
    ],
)
def test_unknown_names_are_minus_3(esi: EsiClient, body: dict[str, object]) -> None:
    response = esi.post("trigger", body)
    assert response.status_code == 404
    answer = response.json()
    assert answer["statusCode"] == "-3"
    assert answer["status"] == "error"


def test_unknown_run_and_task_are_minus_3(esi: EsiClient) -> None:
    assert esi.post("status", {"batchRunId": "QUICK_2024-01-01_1_1"}).json()["statusCode"] == "-3"
    run_id = esi.trigger("QUICK")
    assert esi.post("status", {"batchRunId": run_id, "tasks": ["ZZZ"]}).json()["statusCode"] == "-3"
    assert esi.post("status", {"batchRunId": run_id, "tasks": "A"}).json()["statusCode"] == "-4"
    for verb in ("interrupt", "restart", "rerun"):
        assert esi.action(verb, "FAILING", run_id).json()["statusCode"] == "-3"  # name does not match
        assert esi.action(verb, "QUICK", "QUICK_2024-01-01_1_1").json()["statusCode"] == "-3"
        assert esi.post(verb, {"batchRunId": run_id}).json()["statusCode"] == "-4"


def test_everything_excluded_is_minus_6(esi: EsiClient, sim: Simulator) -> None:
    response = esi.post("trigger", {"batchName": "QUICK", "batchType": "rest", "excludedTasks": "A, B,C"})
    assert response.status_code == 200  # decide from the body (ESI-NOTES 3)
    body = response.json()
    assert body["statusCode"] == "-6"
    assert body["status"] != "success"
    group = esi.post("trigger", {"batchName": "G_OK", "batchType": "group", "excludedTasks": "QUICK,FLAKY"})
    assert group.json()["statusCode"] == "-6"
    assert sim.journal.runs_created() == 0


def test_dynamic_params_are_recorded(esi: EsiClient, sim: Simulator) -> None:
    params = {"batchParams": {"$FICMISDATE$": "2024-06-30", "REGION": "EMEA"}, "taskRuntimeParams": {"B": {"X": "1"}}}
    run_id = esi.trigger("QUICK", dynamicParamList=json.dumps(params))
    assert run_id.startswith("QUICK_2024-06-30_")
    assert run_id.endswith("_1")
    run = sim.get_run(run_id)
    assert run.params == params
    assert run.mis_date == "2024-06-30"
    legacy = esi.trigger("QUICK", dynamicParamList=json.dumps({"batchParams": {"FICMISDATE$": "2023-01-31"}}))
    assert legacy.startswith("QUICK_2023-01-31_")  # ESI-NOTES 6: the batch sample's key


def test_group_dynamic_params(esi: EsiClient, sim: Simulator) -> None:
    params = [
        {"batchName": "QUICK", "batchParams": {"$FICMISDATE$": "2024-03-31"}, "taskRuntimeParams": {"A": {}}},
        {"batchName": "FLAKY", "batchParams": {"$FICMISDATE$": "2024-03-31"}},
    ]
    run_id = esi.trigger("G_OK", "group", dynamicParamList=json.dumps(params))
    assert run_id.startswith("G_OK_2024-03-31_")
    answer = esi.status(run_id)
    child = answer["batchList"][0]["batchRunId"]
    assert child.startswith("QUICK_2024-03-31_")
    assert sim.get_run(child).params["taskRuntimeParams"] == {"A": {}}
