"""``test_connection()``: a clear success, or a failure that says why (credentials, address, headers, fields)."""

from __future__ import annotations

import pytest

from tests.hook.conftest import closed_port


def test_usable_connection_reports_success_without_naming_a_connection_id(sim, connect):
    ok, message = connect(sim).test_connection()

    assert ok, message
    assert message.startswith("Connection is usable")
    assert "ofs_scheduler_default" not in message  # Airflow's UI tests a copy under a made-up id
    assert sim.token_url in message
    assert sim.journal.runs_created() == 0


def test_success_means_both_transports_got_a_token_and_esi_accepted_it(sim, connect):
    ok, message = connect(sim).test_connection()

    assert ok, message
    assert sim.journal.count("token") == 2  # the worker's path (requests) and the triggerer's (aiohttp)
    statuses = sim.journal.entries("status")
    assert len(statuses) == 2
    assert all(entry.http_status != 401 for entry in statuses)


def test_a_setting_only_the_deferrable_path_refuses_makes_the_test_fail(sim, connect):
    """Over http, requests ignores ``verify``; the triggerer's aiohttp refuses a CA bundle it cannot read."""
    ok, message = connect(sim, verify="/no/such/ca-bundle.pem").test_connection()

    assert not ok
    assert "'verify'" in message
    assert "/no/such/ca-bundle.pem" in message


def test_a_form_made_connection_with_every_empty_field_null_is_usable(sim, connect_dict):
    conn = sim.connection_dict()
    conn["extra"] |= {"verify": None, "timeout": None, "proxy": None, "locale": "", "access_token": None}

    ok, message = connect_dict(conn).test_connection()

    assert ok, message


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
    hook = connect(sim, iam_url=f"http://127.0.0.1:{closed_port()}/oauth2/v1/token", retry_attempts=2)

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
def test_missing_field_names_the_field_and_no_connection_id(sim, connect_dict, field):
    conn = sim.connection_dict()
    del conn["extra"][field]

    ok, message = connect_dict(conn, "ofs_incomplete").test_connection()

    assert not ok
    assert repr(field) in message
    assert "ofs_incomplete" not in message


def test_missing_host_names_the_field(sim, connect_dict):
    conn = sim.connection_dict()
    conn["host"] = ""

    ok, message = connect_dict(conn).test_connection()

    assert not ok
    assert "'host'" in message
