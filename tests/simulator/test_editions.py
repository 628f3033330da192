"""Simulator strictness (issue 17): the remote user, offline_access, both dynamicParamList editions, strict mode,
includedTasks and call-level -1 answers."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest
from esi_sim_support import CATALOGUE, SECRETS, EsiClient

from airflow_provider_ofs.simulator import CatalogueError, Simulator, load_catalogue

EXEC_USER = dataclasses.replace(SECRETS, remote_user="ofs_batch_exec")
MIS = {"batchParams": {"$FICMISDATE$": "2024-01-31"}}


@pytest.fixture
def sim_factory(ofs_simulator_factory: Callable[..., Simulator]) -> Callable[..., Simulator]:
    def factory(**kwargs: object) -> Simulator:
        kwargs.setdefault("credentials", SECRETS)
        return ofs_simulator_factory(CATALOGUE, speed=20, **kwargs)

    return factory


def test_remote_user_is_its_own_credential(sim_factory: Callable[..., Simulator]) -> None:
    sim = sim_factory(credentials=EXEC_USER)
    esi = EsiClient(sim)
    body = {"batchName": "QUICK", "batchType": "rest"}

    as_iam_user = esi.post("trigger", body, ofs_remote_user=EXEC_USER.username)
    as_exec_user = esi.post("trigger", body, ofs_remote_user="ofs_batch_exec")

    assert as_iam_user.json()["statusCode"] == "-5"
    assert "ofs_remote_user" in as_iam_user.json()["details"]
    assert as_exec_user.json()["statusCode"] == "0"
    assert json.loads(sim.connection_json())["extra"]["remote_user"] == "ofs_batch_exec"
    assert "ofs_batch_exec" in sim.env_var_line()


def test_remote_user_defaults_to_the_iam_user() -> None:
    assert SECRETS.remote_user == SECRETS.username


def test_refresh_token_only_for_offline_access(esi: EsiClient) -> None:
    with_offline = esi.get_token().json()
    without = esi.get_token(scope="urn:opc:idm:__myscopes__").json()

    assert with_offline["refresh_token"]
    assert without["access_token"]
    assert "refresh_token" not in without


def test_refresh_grant_may_narrow_the_scope_but_not_widen_it(esi: EsiClient) -> None:
    refresh = esi.get_token(scope="urn:opc:idm:t.user.me offline_access").json()["refresh_token"]

    wider = esi.get_token("refresh_token", refresh_token=refresh, scope="urn:opc:idm:__myscopes__")
    narrower = esi.get_token("refresh_token", refresh_token=refresh, scope="urn:opc:idm:t.user.me")

    assert (wider.status_code, wider.json()["error"]) == (400, "invalid_scope")
    assert narrower.status_code == 200
    assert narrower.json()["refresh_token"]  # rotated, with the scope first granted


@pytest.mark.parametrize("params_format", ["string", "object"])
def test_each_edition_takes_its_own_dynamic_param_list(
    sim_factory: Callable[..., Simulator], params_format: str
) -> None:
    esi = EsiClient(sim_factory(params_format=params_format))
    group = [{"batchName": "QUICK", **MIS}]
    own, other = (json.dumps, lambda value: value) if params_format == "string" else (lambda value: value, json.dumps)

    assert esi.trigger("QUICK", dynamicParamList=own(MIS)).startswith("QUICK_2024-01-31_")
    assert esi.trigger("G_OK", "group", dynamicParamList=own(group)).startswith("G_OK_2024-01-31_")
    refused = esi.post("trigger", {"batchName": "QUICK", "batchType": "rest", "dynamicParamList": other(MIS)})
    assert refused.json()["statusCode"] == "-4"
    assert "dynamicParamList" in refused.json()["details"]


def test_params_format_from_the_catalogue_and_its_validation() -> None:
    assert load_catalogue({**CATALOGUE, "params_format": "object", "strict": True}).params_format == "object"
    with pytest.raises(CatalogueError, match="params_format"):
        load_catalogue({**CATALOGUE, "params_format": "json"})
    with pytest.raises(ValueError, match="params_format"):
        Simulator(CATALOGUE, params_format="json")


def test_strict_mode_refuses_the_misspelt_mis_date_key(sim_factory: Callable[..., Simulator]) -> None:
    lenient, strict = EsiClient(sim_factory()), EsiClient(sim_factory(strict=True))
    misspelt = json.dumps({"batchParams": {"FICMISDATE$": "2024-01-31"}})
    body = {"batchName": "QUICK", "batchType": "rest", "dynamicParamList": misspelt}

    assert lenient.post("trigger", body).json()["statusCode"] == "0"
    refused = strict.post("trigger", body).json()
    assert refused["statusCode"] == "-4"
    assert "$FICMISDATE$" in refused["details"]
    assert strict.trigger("QUICK", dynamicParamList=json.dumps(MIS)).startswith("QUICK_2024-01-31_")


def test_included_tasks_run_and_the_others_are_excluded(esi: EsiClient, sim: Simulator) -> None:
    run_id = esi.trigger("QUICK", includedTasks="B")
    group_id = esi.trigger("G_OK", "group", includedTasks="FLAKY")

    answer = esi.wait_for(run_id, "0")
    assert {task["taskCode"]: task["statusCode"] for task in answer["taskStatusList"]} == {"A": "4", "B": "0", "C": "4"}
    children = esi.status(group_id)["batchList"]
    assert sim.get_run(children[0]["batchRunId"]).name == "QUICK"
    assert children[0]["batchStatusCode"] == "4"


@pytest.mark.parametrize(
    ("fields", "code"),
    [({"includedTasks": "NOPE"}, "-3"), ({"includedTasks": "A", "excludedTasks": "A"}, "-4")],
)
def test_included_tasks_are_checked(esi: EsiClient, fields: dict[str, str], code: str) -> None:
    assert esi.post("trigger", {"batchName": "QUICK", "batchType": "rest", **fields}).json()["statusCode"] == code


def test_api_failure_fault_answers_minus_1_without_processing(esi: EsiClient, sim: Simulator) -> None:
    sim.add_fault("trigger", ["api_failure"])

    response = esi.post("trigger", {"batchName": "QUICK", "batchType": "rest"})

    assert response.status_code == 200
    assert response.json()["statusCode"] == "-1"
    assert response.json()["status"] == "failure"
    assert sim.runs == {}
    assert sim.journal.entries("trigger")[0].api_status_code == "-1"
