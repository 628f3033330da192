"""Serving: CLI, connection line, TLS, path prefix, admin endpoint, pytest fixtures, concurrency."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
import requests
from esi_sim_support import CATALOGUE, ESI, SECRETS, EsiClient

from airflow_provider_ofs.simulator import Simulator, make_self_signed_cert
from airflow_provider_ofs.simulator.__main__ import main


def test_connection_json_and_env_line(sim: Simulator) -> None:
    conn = json.loads(sim.connection_json())
    assert conn["conn_type"] == "ofs_scheduler"
    assert conn["host"] == sim.base_url
    assert (conn["login"], conn["password"]) == (SECRETS.username, SECRETS.password)
    extra = conn["extra"]
    assert extra["iam_url"] == sim.token_url
    assert extra["client_id"] == SECRETS.client_id
    assert extra["client_secret"] == SECRETS.client_secret
    assert (extra["tenant_id"], extra["service_id"], extra["workspace_id"]) == ("TEN_X", "SVC_Y", "WS009")
    assert extra["timeout"] < sim.slow_seconds
    overridden = json.loads(sim.connection_json("http", timeout=7, locale="fr-FR"))
    assert overridden["conn_type"] == "http"
    assert overridden["extra"]["timeout"] == 7
    assert overridden["extra"]["locale"] == "fr-FR"
    line = sim.env_var_line()
    prefix = "AIRFLOW_CONN_OFS_SCHEDULER_DEFAULT='"
    assert line.startswith(prefix)
    assert line.endswith("'")
    assert json.loads(line[len(prefix) : -1]) == conn


def test_path_prefix(ofs_simulator_factory: Callable[..., Simulator]) -> None:
    sim = ofs_simulator_factory(CATALOGUE, speed=20, path_prefix="app/ofs/")
    assert sim.base_url.endswith("/app/ofs")
    assert sim.token_url == f"http://127.0.0.1:{sim.port}/oauth2/v1/token"  # token endpoint at the root
    esi = EsiClient(sim)
    run_id = esi.trigger("QUICK")
    assert run_id.startswith("QUICK_")
    response = requests.post(f"http://127.0.0.1:{sim.port}{ESI}status", json={"batchRunId": run_id}, timeout=5)
    assert response.status_code == 404  # no ESI outside the prefix


def test_tls_with_self_signed_cert(ofs_simulator_factory: Callable[..., Simulator], tmp_path: Path) -> None:
    certfile, keyfile = make_self_signed_cert(tmp_path)
    sim = ofs_simulator_factory(CATALOGUE, speed=20, ssl_certfile=certfile, ssl_keyfile=keyfile)
    assert sim.base_url.startswith("https://127.0.0.1:")
    assert json.loads(sim.connection_json())["extra"]["verify"] == certfile
    esi = EsiClient(sim, verify=certfile)  # the certificate is its own CA bundle
    esi.wait_for(esi.trigger("QUICK"), "0")
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(sim.token_url, timeout=5)  # default CA bundle: not trusted


def test_admin_endpoint(sim: Simulator) -> None:
    esi = EsiClient(sim)
    admin = sim.admin_url
    bad = requests.post(f"{admin}/faults", json={"verb": "nope", "answers": [500]}, timeout=5)
    assert bad.status_code == 400
    assert "verb" in bad.json()["error"]
    added = requests.post(f"{admin}/faults", json={"verb": "trigger", "batch": "QUICK", "answers": [503]}, timeout=5)
    assert added.status_code == 200
    assert esi.post("trigger", {"batchName": "QUICK", "batchType": "rest"}).status_code == 503
    run_id = esi.trigger("QUICK", heldTasks="C")
    journal = requests.get(f"{admin}/journal", timeout=5).json()["journal"]
    assert [(e["verb"], e["fault"]) for e in journal if e["verb"] == "trigger"] == [
        ("trigger", "503"),
        ("trigger", None),
    ]
    esi.wait_for(run_id, "5")
    run = requests.get(f"{admin}/runs/{run_id}", timeout=5).json()
    assert run["stateCode"] == 5
    released = requests.post(f"{admin}/release-held", json={"batchRunId": run_id}, timeout=5)
    assert released.status_code == 200
    esi.wait_for(run_id, "0")
    assert requests.post(f"{admin}/expire-tokens", timeout=5).json() == {"ok": True}
    assert esi.post("status", {"batchRunId": run_id}).status_code == 401
    assert requests.post(f"{admin}/revoke-refresh-tokens", timeout=5).status_code == 200
    assert requests.post(f"{admin}/reset", timeout=5).status_code == 200
    assert requests.get(f"{admin}/runs", timeout=5).json() == {"runs": []}
    assert requests.get(f"{admin}/journal", timeout=5).json() == {"journal": []}


def test_the_admin_endpoint_starts_a_run_as_ofs_itself_would(sim: Simulator) -> None:
    esi = EsiClient(sim)

    started = requests.post(f"{sim.admin_url}/runs", json={"batchName": "QUICK"}, timeout=5)
    unknown = requests.post(f"{sim.admin_url}/runs", json={"batchName": "NO_SUCH_BATCH"}, timeout=5)

    assert started.status_code == 201
    run_id = started.json()["batchRunId"]
    esi.wait_for(run_id, "0")  # ESI knows the run: a sensor can watch it
    assert (unknown.status_code, "NO_SUCH_BATCH" in unknown.json()["error"]) == (400, True)
    assert sim.journal.count("trigger") == 0, "no ESI call started it"


@pytest.mark.ofs_simulator(speed=123.0, token_lifetime=77)
def test_fixture_marker(ofs_simulator: Simulator) -> None:
    assert ofs_simulator.speed == 123.0
    assert "OFS_EOD_GROUP" in ofs_simulator.catalogue.groups  # the built-in demo catalogue
    assert EsiClient(ofs_simulator).get_token().json()["expires_in"] == 77


def test_ofs_connection_fixture(ofs_connection: Simulator) -> None:
    assert os.environ["AIRFLOW_CONN_OFS_SCHEDULER_DEFAULT"] == ofs_connection.connection_json()
    esi = EsiClient(ofs_connection)
    for name in ("OFS_DAILY_DATA_LOAD", "OFS_REG_CAPITAL_CALC", "OFS_LIQUIDITY_RISK", "OFS_IFRS9_ECL"):
        run_id = esi.trigger(name)
        esi.wait_for(run_id, "0", "-1", "3")
    group_id = esi.trigger("OFS_EOD_GROUP", "group")
    assert esi.wait_for(group_id, "-1")["batchList"][-1]["batchRunId"].startswith("OFS_REG_CAPITAL_CALC_")


def test_concurrent_status_polls(sim: Simulator) -> None:
    esi = EsiClient(sim)
    run_ids = [esi.trigger("QUICK") for _ in range(5)]
    headers = {"Content-Type": "application/json", **esi.headers()}
    url = sim.base_url + ESI + "status"

    async def poll_all() -> list[tuple[int, str]]:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

            async def one(i: int) -> tuple[int, str]:
                body = json.dumps({"batchRunId": run_ids[i % 5]})
                async with session.post(url, data=body, headers=headers) as response:
                    answer = await response.json()
                    return response.status, answer["statusCode"]

            return await asyncio.gather(*(one(i) for i in range(200)))

    results = asyncio.run(poll_all())
    assert results == [(200, "0")] * 200
    assert sim.journal.count("status") == 200


def test_cli_bad_catalogue_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"batches": {"B": {"tasks": [{"code": "T", "outcome": "explode"}]}}}')
    assert main(["--catalogue", str(bad), "--port", "0"]) == 2
    assert "explode" in capsys.readouterr().err


def test_cli_prints_connection_and_stops_on_sigterm(tmp_path: Path) -> None:
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps(CATALOGUE))
    command = [sys.executable, "-m", "airflow_provider_ofs.simulator", "--port", "0", "--speed", "20"]
    command += ["--catalogue", str(catalogue), "--params-format", "object", "--strict"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 90  # importing the parent package may load Airflow
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("AIRFLOW_CONN_"):
                break
        env_lines = [line for line in lines if line.startswith("AIRFLOW_CONN_OFS_SCHEDULER_DEFAULT='")]
        assert len(env_lines) == 1, lines
        assert any(line.startswith("OFS ESI simulator listening on http://127.0.0.1:") for line in lines)
        conn = json.loads(env_lines[0].strip()[len("AIRFLOW_CONN_OFS_SCHEDULER_DEFAULT='") : -1])
        extra = conn["extra"]
        token = requests.post(
            extra["iam_url"],
            auth=(extra["client_id"], extra["client_secret"]),
            data={"grant_type": "password", "username": conn["login"], "password": conn["password"]},
            timeout=10,
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "ofs_tenant_id": extra["tenant_id"],
            "ofs_service_id": extra["service_id"],
            "ofs_workspace_id": extra["workspace_id"],
            "ofs_remote_user": extra["remote_user"],
            "locale": "en-US",
        }
        assert extra["dynamic_params_format"] == "object"
        assert any("dynamicParamList: object edition, strict" in line for line in lines)
        params = {"batchParams": {"$FICMISDATE$": "2024-01-31"}}
        body = {"batchName": "QUICK", "batchType": "rest", "dynamicParamList": params}
        answer = requests.post(conn["host"] + ESI + "trigger", json=body, headers=headers, timeout=10).json()
        assert answer["statusCode"] == "0"
        body["dynamicParamList"] = {"batchParams": {"FICMISDATE$": "2024-01-31"}}  # refused: --strict
        answer = requests.post(conn["host"] + ESI + "trigger", json=body, headers=headers, timeout=10).json()
        assert answer["statusCode"] == "-4"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        _, stderr = process.communicate(timeout=5)
        assert "trigger batch=QUICK" in stderr  # one log line per request
        for secret in (extra["client_secret"], conn["password"], token):
            assert secret not in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_simulator_serves_with_deprecation_warnings_as_errors():
    """A user's test suite may run under ``-W error::DeprecationWarning``; ours hides those warnings."""
    script = (
        "from airflow_provider_ofs.simulator.simulator import Simulator\n"
        "import urllib.request\n"
        "with Simulator() as sim:\n"
        "    urllib.request.urlopen(sim.admin_url + '/health', timeout=10).read()\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-2000:]
