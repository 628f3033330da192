"""The user's front door in a real Airflow: connections as Airflow's form, URI and CLI hand them over.

``airflow connections add`` stores a connection the way Airflow 3.x's form does (every empty extra ``null``)
and another from a URI that names its port and scheme; ``airflow connections test`` checks one; ``airflow
dags test`` of tests/dags/front_door_dags.py then runs a task through each, a task whose password IAM
refuses (``retries=1``) and one that ESI refuses with -3.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.connection_form import CONNECTION_FIELDS
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from tests.airflow_cli import latest_run_rows
from tests.dags.front_door_dags import DAG_ID

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.compat, pytest.mark.timeout(600)]

QUICK = {"tasks": [{"code": "STEP", "seconds": 0.2, "outcome": "success"}]}
CATALOGUE = {"batches": {"FD_FORM": QUICK, "FD_URI": QUICK, "FD_REFUSED": QUICK}}
#: What the user types into the form; the rest of the extras stay empty (``null``).
TYPED = ("iam_url", "client_id", "client_secret", "tenant_id", "service_id", "remote_user", "dynamic_params_format")


def form_json(simulator) -> str:
    """The connection as Airflow 3.x's form stores it: every extra field, the untouched ones ``null``."""
    conn = simulator.connection_dict()
    extra = dict.fromkeys(CONNECTION_FIELDS) | {name: conn["extra"][name] for name in TYPED}
    return json.dumps({**conn, "extra": json.dumps(extra), "port": None, "schema": None})


def uri(simulator) -> str:
    """The connection as a URI: host and port apart, the scheme as the schema (``/http``), extras as query."""
    conn = simulator.connection_dict()
    host, port = conn["host"].removeprefix("http://").split(":")
    query = urlencode({name: conn["extra"][name] for name in TYPED})  # quoted: an iam_url holds "://"
    return f"ofs-scheduler://{conn['login']}:{conn['password']}@{host}:{port}/http?{query}"


@pytest.fixture(scope="module")
def front_door(airflow_cli):
    from airflow_provider_ofs.simulator.simulator import Simulator

    with Simulator(CATALOGUE, speed=20) as simulator:
        for conn_id, how, value in (
            ("ofs_door_form", "--conn-json", form_json(simulator)),
            ("ofs_door_uri", "--conn-uri", uri(simulator)),
        ):
            added = airflow_cli.run("connections", "add", conn_id, how, value)
            assert added.returncode == 0, added.output[-2000:]
        tested = airflow_cli.run(
            "connections", "test", "ofs_door_form", env={"AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}
        )
        wrong = simulator.connection_dict()
        wrong["password"] = "not-the-password"
        env = {
            CONN_ENV_VAR: simulator.connection_json(retry_wait=0.05),
            "AIRFLOW_CONN_OFS_DOOR_WRONG_PASSWORD": json.dumps(wrong),
        }
        if airflow_version() == (3, 0):  # its dags test reads the DAG from the database only
            assert airflow_cli.run("dags", "reserialize").returncode == 0
        run = airflow_cli.dags_test(DAG_ID, env=env)
        states = {
            task: (state, tries)
            for task, state, tries in latest_run_rows(airflow_cli.home, DAG_ID, "task_id, state, try_number")
        }
        yield simulator, states, run.output, tested.output


def test_a_task_works_through_a_connection_stored_as_the_form_stores_it(front_door):
    simulator, states, output, _ = front_door

    assert states["form_connection"] == ("success", 1), output[-4000:]
    assert simulator.journal.runs_created("FD_FORM") == 1


def test_the_cli_test_of_a_form_made_connection_is_green(front_door):
    _, _, _, tested = front_door

    assert "Connection success!" in tested, tested[-2000:]


def test_a_uri_with_port_and_scheme_reaches_the_simulator(front_door):
    simulator, states, output, _ = front_door

    assert states["uri_connection"] == ("success", 1), output[-4000:]
    assert simulator.journal.runs_created("FD_URI") == 1


def test_iam_refusing_the_password_fails_the_task_at_once_with_one_token_request(front_door):
    simulator, states, output, _ = front_door

    assert states["refused_password"] == ("failed", 1), output[-4000:]
    refused = [entry for entry in simulator.journal.entries("token") if entry.http_status in (400, 401)]
    assert len(refused) == 1, "a retry would ask IAM again: an account-lockout risk"
    assert "invalid_grant" in output
    assert simulator.token_url in output
    assert "not-the-password" not in output


def test_an_esi_refusal_ends_the_task_log_with_its_message_not_a_deep_stack(front_door):
    _, states, output, _ = front_door

    assert states["unknown_batch"] == ("failed", 1), output[-4000:]
    assert "FD_NO_SUCH_BATCH" in output
    assert "airflow_provider_ofs/protocol" not in output, "frames below the operator's method bury the message"


def test_an_undefined_connection_is_named_with_where_to_add_it(front_door):
    _, states, output, _ = front_door

    assert states["undefined_connection"] == ("failed", 1), output[-4000:]
    assert "Connection 'ofs_door_nowhere' is not defined: add it (Admin > Connections" in output
    assert "plain Python process" not in output, "a task can read stored connections"


def test_a_task_that_failed_before_any_run_logs_no_missing_xcom(front_door):
    _, _, output, _ = front_door

    assert "XCom not found" not in output
