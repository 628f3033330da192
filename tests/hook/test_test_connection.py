"""``test_connection()``: a clear success, or a failure that says why (credentials, address, headers, fields)."""

from __future__ import annotations

import pytest

from tests.hook.conftest import closed_port


def test_usable_connection_reports_success(sim, connect):
    ok, message = connect(sim).test_connection()

    assert ok, message
    assert repr("ofs_scheduler_default") in message
    assert sim.token_url in message
    assert sim.journal.runs_created() == 0


def test_success_means_esi_accepted_the_token_and_headers(sim, connect):
    connect(sim).test_connection()

    assert sim.journal.count("status") == 1
    assert sim.journal.entries("status")[0].http_status != 401


def test_bad_password_says_the_user_name_or_password_was_refused(sim, connect_dict):
    conn = sim.connection_dict(retry_wait=0.02)
    conn["password"] = "a-wrong-password"

    ok, message = connect_dict(conn).test_connection()

    assert not ok
    assert "invalid_grant" in message
    assert "user name/password" in message
    assert "a-wrong-password" not in message


def test_bad_client_secret_says_the_client_was_refused(sim, connect):
    ok, message = connect(sim, client_secret="a-wrong-client-secret").test_connection()

    assert not ok
    assert "invalid_client" in message
    assert "client_id/client_secret" in message
    assert "a-wrong-client-secret" not in message


def test_unreachable_token_endpoint_says_it_could_not_connect(sim, connect):
    hook = connect(sim, token_url=f"http://127.0.0.1:{closed_port()}/oauth2/v1/token", retry_attempts=2)

    ok, message = hook.test_connection()

    assert not ok
    assert "IAM token endpoint" in message
    assert "could not be established" in message


def test_unreachable_esi_host_says_it_could_not_connect(sim, connect_dict):
    conn = sim.connection_dict(retry_wait=0.02, retry_attempts=2)
    conn["host"] = f"http://127.0.0.1:{closed_port()}/app"

    ok, message = connect_dict(conn).test_connection()

    assert not ok
    assert "ESI" in message
    assert "could not be established" in message


def test_wrong_tenant_says_the_headers_were_refused(sim, connect):
    ok, message = connect(sim, tenant_id="NOT_OUR_TENANT").test_connection()

    assert not ok
    assert "-5" in message
    assert "Invalid request headers" in message


def test_refused_pre_issued_token_says_so(sim, connect):
    ok, message = connect(sim, access_token="not-a-token-the-simulator-issued").test_connection()

    assert not ok
    assert "401" in message
    assert "pre-issued access_token" in message
    assert "not-a-token-the-simulator-issued" not in message


@pytest.mark.parametrize("field", ["tenant_id", "service_id", "client_id"])
def test_missing_field_names_the_field_and_the_connection(sim, connect_dict, field):
    conn = sim.connection_dict()
    del conn["extra"][field]

    ok, message = connect_dict(conn, "ofs_incomplete").test_connection()

    assert not ok
    assert repr(field) in message
    assert repr("ofs_incomplete") in message


def test_missing_host_names_the_field(sim, connect_dict):
    conn = sim.connection_dict()
    conn["host"] = ""

    ok, message = connect_dict(conn).test_connection()

    assert not ok
    assert "'host'" in message
