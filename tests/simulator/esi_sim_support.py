"""Support for the simulator tests: a tiny ESI client built on requests, and a test catalogue."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from airflow_provider_ofs.simulator import Simulator, SimulatorCredentials

ESI = "/SchedulerService/rest-api/v1/external/"

# Durations are seconds at speed 1; the tests run at speed 20.
CATALOGUE: dict[str, Any] = {
    "batches": {
        "QUICK": {
            "tasks": [{"code": "A", "seconds": 0.5}, {"code": "B", "seconds": 0.5}, {"code": "C", "seconds": 0.5}]
        },
        "FAILING": {
            "tasks": [
                {"code": "F1", "seconds": 0.2},
                {"code": "F2", "seconds": 0.2, "outcome": "fail"},
                {"code": "F3", "seconds": 0.2},
            ]
        },
        "FLAKY": {
            "tasks": [
                {"code": "K1", "seconds": 0.2},
                {"code": "K2", "seconds": 0.2, "outcome": "fail_once"},
                {"code": "K3", "seconds": 0.2},
            ]
        },
        "ABORTING": {"tasks": [{"code": "X1", "seconds": 0.2, "outcome": "abort"}, {"code": "X2", "seconds": 0.2}]},
        "LONG": {"tasks": [{"code": "L1", "seconds": 600}, {"code": "L2", "seconds": 1}]},
        "KEEPER": {"tasks": [{"code": "P1", "seconds": 0.2}], "rerun_keeps_run_id": True},
    },
    "groups": {
        "G_OK": {"batches": ["QUICK", "FLAKY"]},
        "G_FAIL": {"batches": ["QUICK", "FAILING", "FLAKY"]},
        "G_LONG": {"batches": ["QUICK", "LONG", "FLAKY"]},
    },
}

SECRETS = SimulatorCredentials(
    client_id="cid-7Q2",
    client_secret="csecret-Zx91-unique",
    username="esi_runner",
    password="pw-Hy77-unique",
    tenant_id="TEN_X",
    service_id="SVC_Y",
    workspace_id="WS009",
)


class EsiClient:
    """Just enough of a client to drive the simulator over HTTP."""

    def __init__(self, sim: Simulator, verify: str | bool = True) -> None:
        self.sim = sim
        self.http = requests.Session()
        self.verify = verify  # per request: a Session.verify loses against REQUESTS_CA_BUNDLE
        self.token = self.get_token().json()["access_token"]

    def get_token(self, grant: str = "password", auth: tuple[str, str] | None = None, **form: str) -> requests.Response:
        creds = self.sim.credentials
        data = {"grant_type": grant, "scope": "urn:opc:idm:__myscopes__ offline_access"}
        if grant == "password":
            data |= {"username": creds.username, "password": creds.password}
        data |= form
        return self.http.post(
            self.sim.token_url,
            auth=auth or (creds.client_id, creds.client_secret),
            data=data,
            timeout=10,
            verify=self.verify,
        )

    def headers(self, **overrides: str | None) -> dict[str, str]:
        creds = self.sim.credentials
        headers: dict[str, str | None] = {
            "Authorization": f"Bearer {self.token}",
            "ofs_tenant_id": creds.tenant_id,
            "ofs_service_id": creds.service_id,
            "ofs_workspace_id": creds.workspace_id,
            "ofs_remote_user": creds.username,
            "locale": "en-US",
        }
        headers |= overrides
        return {k: v for k, v in headers.items() if v is not None}

    def post(self, verb: str, body: Any, timeout: float = 10, **header_overrides: str | None) -> requests.Response:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers = {"Content-Type": "application/json", **self.headers(**header_overrides)}
        url = self.sim.base_url + ESI + verb
        return self.http.post(url, data=data, headers=headers, timeout=timeout, verify=self.verify)

    def ok(self, verb: str, body: Any) -> dict[str, Any]:
        response = self.post(verb, body)
        answer: dict[str, Any] = response.json()
        assert response.status_code == 200, answer
        assert answer["statusCode"] == "0", answer
        assert answer["status"] == "success"
        return answer

    def trigger(self, name: str, batch_type: str = "rest", **fields: Any) -> str:
        body = {"batchName": name, "batchType": batch_type, "excludedTasks": "", "heldTasks": "", **fields}
        return str(self.ok("trigger", body)["batchRunId"])

    def status(self, run_id: str, tasks: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"batchRunId": run_id}
        if tasks is not None:
            body["tasks"] = tasks
        return self.ok("status", body)

    def wait_for(self, run_id: str, *codes: str, deadline: float = 15.0) -> dict[str, Any]:
        """Poll until batchStatusCode is one of ``codes`` (generous deadline, no timing assertions)."""
        end = time.monotonic() + deadline
        while True:
            answer = self.status(run_id)
            if answer["batchStatusCode"] in codes:
                return answer
            if time.monotonic() > end:
                raise AssertionError(f"run {run_id} never reached {codes}: {answer}")
            time.sleep(0.02)

    def action(self, verb: str, name: str, run_id: str) -> requests.Response:
        return self.post(verb, {"batchName": name, "batchRunId": run_id})


def task_codes(answer: dict[str, Any]) -> dict[str, str]:
    return {t["taskCode"]: t["statusCode"] for t in answer["taskStatusList"]}
