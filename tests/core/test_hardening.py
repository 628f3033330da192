"""Issue 14 in the pure core: token identity, pre-issued tokens, input validation, reprs and redaction, proxies."""

from __future__ import annotations

import json

import pytest

from airflow_provider_ofs.exceptions import (
    OFSAuthenticationError,
    OFSConnectionConfigError,
    OFSObjectNotFoundError,
)
from airflow_provider_ofs.protocol import (
    FALLBACK_TOKEN_LIFETIME,
    HttpResponse,
    Token,
    build_status,
    build_token_request,
    decode_answer,
    parse_token_answer,
    token_source,
)
from tests.core.factory import CONN_ID, PASSWORD, make_settings

NOW = 1_700_000_000.0
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiYXRjaCJ9.c2lnbmF0dXJlLXRoYXQtaXMtc2VjcmV0"


def json_answer(body, status=200):
    return HttpResponse(status=status, body=json.dumps(body).encode(), content_type="application/json")


# ---------------------------------------------------------------------------------------- 10: token identity


def test_connections_that_differ_only_in_scope_do_not_share_tokens():
    assert make_settings(scope="urn:opc:idm:__myscopes__").cache_key != make_settings().cache_key


# --------------------------------------------------------------------------------- 2: a refused pre-issued token


def test_a_refused_pre_issued_token_is_handed_out_again_for_the_repeat_and_later_calls():
    settings = make_settings(access_token="pre-issued")
    first = token_source(settings, None)
    assert isinstance(first, Token)

    again = token_source(settings, first)

    assert isinstance(again, Token)
    assert again.access_token == "pre-issued"
    assert again.is_fresh(NOW)


# ------------------------------------------------------------------------------ 6: tokens that cannot be sent


@pytest.mark.parametrize("token", ["abc\ndef", "abc def", "abc\tdef", "abc\x00def", "abc\x7fdef", "tökén"])
def test_a_pre_issued_token_with_whitespace_or_control_characters_is_refused_naming_the_field(token):
    with pytest.raises(OFSConnectionConfigError) as raised:
        make_settings(access_token=token)

    assert "'access_token'" in str(raised.value)
    assert repr(CONN_ID) in str(raised.value)
    assert token not in str(raised.value)
    assert "abc" not in str(raised.value)


@pytest.mark.parametrize("token", ["abc\r\nX-Injected: 1", "abc def", "abc\x01"])
def test_a_token_from_iam_with_whitespace_or_control_characters_is_an_authentication_error(token):
    with pytest.raises(OFSAuthenticationError) as raised:
        parse_token_answer(json_answer({"access_token": token, "expires_in": 3600}), make_settings(), now=NOW)

    assert "access_token" in str(raised.value)
    assert token not in str(raised.value)
    assert "abc" not in str(raised.value)


# ---------------------------------------------------------------------------------- 8: reprs and redaction


def test_request_reprs_show_neither_headers_nor_body():
    settings = make_settings()
    token_request = build_token_request(settings)
    esi_request = build_status(settings, "RUN_1").with_bearer(JWT)

    text = repr(token_request) + repr(esi_request)

    assert PASSWORD not in text
    assert "client-secret-1" not in text
    assert token_request.headers["Authorization"] not in text
    assert JWT not in text
    assert settings.iam_url in text  # the repr still says where the call goes


def test_response_repr_shows_no_body():
    assert JWT not in repr(json_answer({"access_token": JWT}))


def test_server_detail_echoing_a_secret_or_a_bearer_token_is_redacted():
    settings = make_settings(access_token="pre-issued-SECRET-1")
    body = {
        "statusCode": "-3",
        "summary": "Object does not exist for user batch_user with token pre-issued-SECRET-1",
        "details": f"Authorization: Bearer {JWT}",
    }

    with pytest.raises(OFSObjectNotFoundError) as raised:
        decode_answer(json_answer(body), "status", settings.secrets)

    message = str(raised.value)
    assert "pre-issued-SECRET-1" not in message
    assert JWT not in message
    assert "Object does not exist for user batch_user" in message  # the rest of the detail stays


def test_status_poll_redacts_the_connection_secrets_too():
    from airflow_provider_ofs.protocol import StatusPoll

    settings = make_settings(access_token="pre-issued-SECRET-2")
    poll = StatusPoll(settings, "RUN_1")
    body = {"statusCode": "-3", "summary": "unknown run for pre-issued-SECRET-2"}

    with pytest.raises(OFSObjectNotFoundError) as raised:
        poll.read(json_answer(body), "status")

    assert "pre-issued-SECRET-2" not in str(raised.value)


def test_iam_error_description_echoing_the_password_is_redacted():
    body = {"error": "access_denied", "error_description": f"user batch_user with password {PASSWORD} is locked"}

    with pytest.raises(OFSAuthenticationError) as raised:
        parse_token_answer(json_answer(body, status=400), make_settings(), now=NOW)

    assert PASSWORD not in str(raised.value)
    assert "is locked" in str(raised.value)


# ------------------------------------------------------------------------------------ 9: input validation


@pytest.mark.parametrize("expires_in", [0, -5, "nan", "NaN", "-inf", "0", "garbage"])
def test_a_token_lifetime_that_is_not_positive_or_not_a_number_counts_as_the_fallback(expires_in):
    token = parse_token_answer(json_answer({"access_token": "a", "expires_in": expires_in}), make_settings(), now=NOW)

    assert token.expires_at - NOW == FALLBACK_TOKEN_LIFETIME
    assert token.refresh_at > NOW  # the next call reuses it instead of asking IAM again


@pytest.mark.parametrize("expires_in", [1, 4, 4.5, "30", 59])
def test_a_short_positive_token_lifetime_is_believed_and_renewed_ahead_of_it(expires_in):
    token = parse_token_answer(json_answer({"access_token": "a", "expires_in": expires_in}), make_settings(), now=NOW)

    assert token.expires_at - NOW == float(expires_in)  # not stretched to a minute: ESI would refuse it
    assert NOW < token.refresh_at < token.expires_at


def test_an_infinite_token_lifetime_is_not_taken_for_ever():
    token = parse_token_answer(json_answer({"access_token": "a", "expires_in": "inf"}), make_settings(), now=NOW)

    assert token.expires_at < float("inf")


@pytest.mark.parametrize("name", ["timeout", "retry_attempts", "retry_wait"])
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", float("nan"), float("inf")])
def test_number_extras_that_are_not_finite_are_a_config_error_naming_them(name, value):
    with pytest.raises(OFSConnectionConfigError) as raised:
        make_settings(**{name: value})

    assert repr(name) in str(raised.value)


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("remote_user", {"remote_user": "jos\u00e9\u4e2d"}),
        ("remote_user", {"remote_user": "jos\u00e9"}),  # Latin-1 too: requests and aiohttp would encode it apart
        ("remote_user", {"login": "\u7528\u6237", "drop": ("remote_user",)}),
        ("tenant_id", {"tenant_id": "T\u20ac"}),
        ("service_id", {"service_id": "S\r\nX-Injected: 1"}),
        ("workspace_id", {"workspace_id": "WS\u00a0001"}),
        ("locale", {"locale": "en-\u00dcS"}),
    ],
)
def test_a_header_value_that_http_cannot_carry_is_a_config_error_naming_the_field(field, overrides):
    with pytest.raises(OFSConnectionConfigError) as raised:
        make_settings(**overrides)

    assert repr(field) in str(raised.value)
    assert repr(CONN_ID) in str(raised.value)


def test_a_non_ascii_login_is_fine_when_remote_user_is_ascii():
    settings = make_settings(login="\u7528\u6237", remote_user="EXEC_USER")

    assert "username=%E7%94%A8%E6%88%B7" in build_token_request(settings).body.decode()


@pytest.mark.parametrize("host", ["https://t.example.com/app?x=1", "https://t.example.com/app#frag", "t.example.com?"])
def test_a_host_with_a_query_or_fragment_is_refused_naming_the_field(host):
    with pytest.raises(OFSConnectionConfigError) as raised:
        make_settings(host=host)

    assert "'host'" in str(raised.value)
