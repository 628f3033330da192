"""No secret in any log: a real ``airflow dags test`` run, then every file under AIRFLOW_HOME and the output scanned.

The simulator gets distinctive credentials and short-lived tokens (so the run also refreshes them),
and records every access and refresh token it issues. The DAG ``rel_secrets`` goes through the
trigger call, a deferred wait, a wait on the worker, a failing run, a deferred sensor that times
out and an interrupt, with status faults that make the hook log its retries.

This is the one real-Airflow DAG run that the version matrix repeats on Airflow 2.11 and 3.0
(``compat``): it runs a deferrable ``OFSTriggerBatchOperator`` through ``airflow dags test``.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.simulator import Simulator
from airflow_provider_ofs.simulator.credentials import SimulatorCredentials
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from airflow_provider_ofs.simulator.tokens import IssuedTokens
from tests.airflow_cli import latest_run_rows
from tests.reliability.catalogues import DAGS_CATALOGUE

DAG_ID = "rel_secrets"
CREDENTIALS = SimulatorCredentials(
    client_id="rel-client-7c1d",
    client_secret="rel-client-secret-Qx81vZ",
    username="rel_batch_user",
    password="rel-password-Lm42pT",
)
EXPECTED_STATES = {
    "deferred": "success",
    "on_the_worker": "success",
    "fails": "failed",
    "start_long": "success",
    "sense_long": "failed",
    "interrupt_long": "success",
}


def record_issued_tokens(simulator: Simulator) -> list[IssuedTokens]:
    """Every token pair the simulator's IAM issues from now on (the journal never stores tokens)."""
    issued: list[IssuedTokens] = []
    store = simulator.state.tokens
    issue = store.issue

    def issue_and_record(scope: frozenset[str]) -> IssuedTokens:
        tokens = issue(scope)
        issued.append(tokens)
        return tokens

    store.issue = issue_and_record  # type: ignore[method-assign]
    return issued


def task_states(home: Path) -> dict[str, str]:
    """States of the latest ``rel_secrets`` run's tasks, from the Airflow database."""
    return dict(latest_run_rows(home, DAG_ID, "task_id, state"))


@pytest.mark.airflow_e2e
@pytest.mark.compat
def test_no_password_client_secret_or_token_appears_in_any_log_or_output(
    airflow_cli: Any, ofs_simulator_factory: Any
) -> None:
    simulator = ofs_simulator_factory(DAGS_CATALOGUE, speed=1, token_lifetime=2, credentials=CREDENTIALS)
    issued = record_issued_tokens(simulator)
    simulator.add_fault("status", [503, "garbage", "reset"])

    if airflow_version() == (3, 0):  # its dags test reads the DAG from the database only
        serialised = airflow_cli.run("dags", "reserialize")
        assert serialised.returncode == 0, serialised.output[-3000:]
    run = airflow_cli.dags_test(DAG_ID, env={CONN_ENV_VAR: simulator.connection_json(retry_wait=0.1)})

    assert task_states(airflow_cli.home) == EXPECTED_STATES, run.output[-4000:]
    assert simulator.journal.token_requests("refresh_token") >= 1, "the run refreshed tokens too"
    basic = base64.b64encode(f"{CREDENTIALS.client_id}:{CREDENTIALS.client_secret}".encode()).decode()
    secrets = {
        "password": CREDENTIALS.password,
        "client secret": CREDENTIALS.client_secret,
        "Basic authorization (client id and secret)": basic,
    }
    for number, tokens in enumerate(issued, 1):
        secrets[f"access token #{number}"] = tokens.access_token
        secrets[f"refresh token #{number}"] = tokens.refresh_token
    assert len(issued) >= 2

    for line in ("Triggered OFS batch REL_STEADY", "retrying in", "Interrupted OFS run"):
        assert line in run.output, f"the task logs are not in the scanned output (no {line!r})"
    # dags test prints task logs; a scheduler-run task would write them under logs/ (scanned as well)
    files = [path for path in airflow_cli.home.rglob("*") if path.is_file()]
    found = [
        f"{name} in {where}"
        for where, text in [("the command output", run.output.encode())]
        + [(str(path.relative_to(airflow_cli.home)), path.read_bytes()) for path in files]
        for name, secret in secrets.items()
        if secret.encode() in text
    ]
    assert not found, "secrets leaked: " + "; ".join(found)
