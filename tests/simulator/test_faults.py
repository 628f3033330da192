"""Injected faults through HTTP, and the journal that counts what happened."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import requests
from esi_sim_support import CATALOGUE, SECRETS, EsiClient

from airflow_provider_ofs.simulator import Simulator

QUICK = {"batchName": "QUICK", "batchType": "rest", "excludedTasks": "", "heldTasks": ""}


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_http_error_statuses(esi: EsiClient, sim: Simulator, status: int) -> None:
    run_id = esi.trigger("QUICK")
    sim.add_fault("status", [status])
    response = esi.post("status", {"batchRunId": run_id})
    assert response.status_code == status
    assert "statusCode" not in response.text  # not an ESI envelope: decide from the HTTP status
    assert esi.post("status", {"batchRunId": run_id}).status_code == 200  # then normal again
    faults = [e.fault for e in sim.journal.entries("status")]
    assert faults == [str(status), None]


def test_429_has_retry_after(esi: EsiClient, sim: Simulator) -> None:
    sim.add_fault("trigger", [429])
    response = esi.post("trigger", QUICK)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert sim.journal.runs_created() == 0  # not processed
    esi.trigger("QUICK")
    assert sim.journal.runs_created() == 1


def test_reset_is_not_processed(esi: EsiClient, sim: Simulator) -> None:
    sim.add_fault("trigger", ["reset"])
    with pytest.raises(requests.ConnectionError):
        esi.post("trigger", QUICK)
    assert sim.journal.runs_created() == 0
    assert sim.runs == {}
    [entry] = sim.journal.entries("trigger")
    assert entry.fault == "reset"
    assert entry.http_status is None


def test_reset_after_is_processed(esi: EsiClient, sim: Simulator) -> None:
    """The "may have been processed" case: the run exists although the client saw no answer."""
    sim.add_fault("trigger", ["reset_after"])
    with pytest.raises(requests.ConnectionError):
        esi.post("trigger", QUICK)
    assert sim.journal.runs_created("QUICK") == 1
    assert len(sim.runs) == 1


@pytest.mark.parametrize(
    ("shape", "sent"),
    [
        ("number", 20260131001),
        ("blank", "  "),
        ("newline", "RUN_1\nINFO - Run RUN_1 succeeded"),
        ("surrogate", "RUN_\ud800"),
    ],
)
def test_bad_run_id_is_processed_and_answered_with_that_batch_run_id(
    esi: EsiClient, sim: Simulator, shape: str, sent: object
) -> None:
    sim.add_fault("trigger", [f"bad_run_id:{shape}"])
    response = esi.post("trigger", QUICK)
    assert response.status_code == 200
    body = json.loads(response.text)
    assert (body["statusCode"], body["batchRunId"]) == ("0", sent)
    [entry] = sim.journal.entries("trigger")
    assert entry.fault == f"bad_run_id:{shape}"
    assert entry.run_id in sim.runs, "the run exists: OFS acted"
    assert sim.journal.runs_created() == 1


def test_bad_run_id_missing_or_huge(esi: EsiClient, sim: Simulator) -> None:
    sim.add_fault("trigger", ["bad_run_id:missing", "bad_run_id:huge"])
    missing = json.loads(esi.post("trigger", QUICK).text)
    huge = json.loads(esi.post("trigger", QUICK).text)
    assert (missing["statusCode"], huge["statusCode"]) == ("0", "0")
    assert "batchRunId" not in missing
    assert huge["batchRunId"] == "R" * 1_000_000
    assert sim.journal.runs_created() == 2


def test_slow_answer_is_processed(ofs_simulator_factory: Callable[..., Simulator]) -> None:
    sim = ofs_simulator_factory(CATALOGUE, speed=20, slow_seconds=1.5, credentials=SECRETS)
    esi = EsiClient(sim)
    sim.add_fault("trigger", ["slow"])
    with pytest.raises(requests.ReadTimeout):
        esi.post("trigger", QUICK, timeout=0.5)
    assert sim.journal.runs_created() == 1
    assert sim.journal.entries("trigger")[0].fault == "slow"


@pytest.mark.parametrize("kind", ["html", "garbage"])
def test_malformed_bodies_with_status_200(esi: EsiClient, sim: Simulator, kind: str) -> None:
    sim.add_fault("trigger", [kind])
    response = esi.post("trigger", QUICK)
    assert response.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        response.json()
    if kind == "html":
        assert response.headers["Content-Type"].startswith("text/html")
    assert sim.journal.runs_created() == 0


def test_fault_per_batch_maps_run_ids(esi: EsiClient, sim: Simulator) -> None:
    quick = esi.trigger("QUICK")
    failing = esi.trigger("FAILING")
    sim.add_fault("status", [503, "pass", 502], batch="QUICK")
    assert esi.post("status", {"batchRunId": failing}).status_code == 200  # other batch: untouched
    assert esi.post("status", {"batchRunId": quick}).status_code == 503
    assert esi.post("status", {"batchRunId": quick}).status_code == 200  # "pass"
    assert esi.post("status", {"batchRunId": quick}).status_code == 502
    assert esi.post("status", {"batchRunId": quick}).status_code == 200
    assert sim.journal.count("status", "QUICK") == 4
    assert sim.journal.count("status", "FAILING") == 1


def test_token_outage(esi: EsiClient, sim: Simulator) -> None:
    sim.add_fault("token", [503, 503])
    assert esi.get_token().status_code == 503
    assert esi.get_token().status_code == 503
    assert esi.get_token().status_code == 200
    assert sim.journal.token_requests() == 4  # the fixture's token included
    assert [e.fault for e in sim.journal.entries("token")] == [None, "503", "503", None]


def test_catalogue_faults_and_reset(ofs_simulator_factory: Callable[..., Simulator]) -> None:
    catalogue = {**CATALOGUE, "faults": [{"verb": "trigger", "batch": "QUICK", "answers": [502]}]}
    sim = ofs_simulator_factory(catalogue, speed=20, credentials=SECRETS)
    esi = EsiClient(sim)
    assert esi.post("trigger", QUICK).status_code == 502
    esi.trigger("QUICK")
    sim.add_fault("status", [500])
    sim.reset()  # forget runs, journal and added faults; the catalogue's faults are armed again
    assert sim.runs == {}
    assert len(sim.journal) == 0
    assert esi.post("trigger", QUICK).status_code == 502
    run_id = esi.trigger("QUICK")
    assert esi.post("status", {"batchRunId": run_id}).status_code == 200


@pytest.mark.parametrize(
    ("verb", "answers", "batch"),
    [
        ("poll", [500], None),
        ("status", [200], None),
        ("status", ["boom"], None),
        ("status", [], None),
        ("status", [500], "NO_SUCH_BATCH"),
        ("token", [500], "QUICK"),
    ],
)
def test_add_fault_validation(sim: Simulator, verb: str, answers: list[object], batch: str | None) -> None:
    with pytest.raises(ValueError, match=r"fault|answer|batch"):
        sim.add_fault(verb, answers, batch)  # type: ignore[arg-type]


def test_journal_never_holds_secrets(esi: EsiClient, sim: Simulator) -> None:
    run_id = esi.trigger("QUICK")
    esi.status(run_id)
    esi.post("status", {"batchRunId": run_id}, ofs_tenant_id="WRONG")
    refresh = esi.get_token().json()["refresh_token"]
    esi.get_token("refresh_token", refresh_token=refresh)
    text = json.dumps(sim.journal.as_list())
    for secret in (SECRETS.client_secret, SECRETS.password, SECRETS.client_id, esi.token, refresh):
        assert secret not in text
    assert sim.journal.count("trigger") == 1
    assert sim.journal.count("status") == 2
    assert [e.api_status_code for e in sim.journal.entries("status")] == ["0", "-5"]
    assert sim.journal.token_requests("password") == 2
    assert sim.journal.token_requests("refresh_token") == 1
