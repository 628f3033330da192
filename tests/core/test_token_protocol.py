"""IAM token protocol (request form, Basic client auth, answer parsing) and the per-process token cache."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from urllib.parse import parse_qs

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_ofs.exceptions import FailureKind, OFSAuthenticationError, OFSTransportError
from airflow_provider_ofs.protocol import (
    HttpResponse,
    Token,
    build_token_request,
    parse_token_answer,
    pre_issued_token,
    redact,
    token_source,
)
from airflow_provider_ofs.tokens import TokenCache
from tests.core.factory import CONN_ID, make_settings

NOW = 1_700_000_000.0


def form_of(request):
    return {key: values[0] for key, values in parse_qs(request.body.decode(), strict_parsing=True).items()}


def token_answer(body, status=200, content_type="application/json"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status=status, body=raw, content_type=content_type)


# --------------------------------------------------------------------------------------------- requests


def test_password_grant_posts_the_documented_form_with_basic_client_auth():
    request = build_token_request(make_settings())

    assert request.url == "https://iam.example.com/oauth2/v1/token"
    assert request.verb == "token"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"client-id-1:client-secret-1").decode()
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert form_of(request) == {
        "grant_type": "password",
        "scope": "urn:opc:idm:__myscopes__ offline_access",
        "username": "batch_user",
        "password": "user-password-1",
    }


def test_password_grant_uses_the_connection_scope():
    assert form_of(build_token_request(make_settings(scope="my-scope")))["scope"] == "my-scope"


def test_refresh_grant_sends_the_refresh_token_and_no_password():
    request = build_token_request(make_settings(), refresh_token="refresh-abc")

    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"client-id-1:client-secret-1").decode()
    assert form_of(request) == {
        "grant_type": "refresh_token",
        "refresh_token": "refresh-abc",
        "scope": "urn:opc:idm:__myscopes__",
    }


@pytest.mark.parametrize(
    ("scope", "refresh_scope"),
    [
        ("urn:opc:idm:__myscopes__ offline_access", "urn:opc:idm:__myscopes__"),
        ("offline_access urn:opc:idm:t.user.me  urn:opc:idm:t.groups", "urn:opc:idm:t.user.me urn:opc:idm:t.groups"),
    ],
)
def test_refresh_grant_asks_for_the_connection_scope_without_offline_access(scope, refresh_scope):
    assert form_of(build_token_request(make_settings(scope=scope), refresh_token="r"))["scope"] == refresh_scope


def test_form_values_with_special_characters_are_encoded():
    request = build_token_request(make_settings(password="p&ss=w rd+%"))

    assert form_of(request)["password"] == "p&ss=w rd+%"


# ---------------------------------------------------------------------------------------------- answers


def test_token_answer_gives_token_expiry_and_refresh_token():
    body = {"access_token": "acc-1", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "ref-1"}

    token = parse_token_answer(token_answer(body), make_settings(), now=NOW)

    assert token.access_token == "acc-1"
    assert token.refresh_token == "ref-1"
    assert token.expires_at == NOW + 3600
    assert token.refresh_at == NOW + 3600 - 60


@pytest.mark.parametrize(
    ("lifetime", "lead"), [(4, 1.0), (60, 15.0), (100, 25.0), (240, 60.0), (600, 60.0), (31_536_000, 60.0)]
)
def test_token_is_refreshed_ahead_of_expiry_by_a_quarter_of_its_life_at_most_a_minute(lifetime, lead):
    token = parse_token_answer(token_answer({"access_token": "a", "expires_in": lifetime}), make_settings(), now=NOW)

    assert token.refresh_at == pytest.approx(NOW + lifetime - lead)
    assert token.is_fresh(NOW + lifetime - lead - 0.01)
    assert not token.is_fresh(NOW + lifetime - lead)


def test_an_answer_without_a_lifetime_means_iams_default_of_an_hour():
    assert parse_token_answer(token_answer({"access_token": "a"}), make_settings(), now=NOW).expires_at == NOW + 3600


@pytest.mark.parametrize("expires_in", ["soon", [1], {}, True, None])
def test_an_unreadable_lifetime_counts_as_the_fallback_minute(expires_in):
    body = {"access_token": "a", "expires_in": expires_in}

    assert parse_token_answer(token_answer(body), make_settings(), now=NOW).expires_at == NOW + 60


def test_lifetime_sent_as_a_string_is_read():
    token = parse_token_answer(token_answer({"access_token": "a", "expires_in": "120"}), make_settings(), now=NOW)

    assert token.expires_at == NOW + 120


@pytest.mark.parametrize("refresh_token", [None, "", 5])
def test_answer_without_a_usable_refresh_token_has_none(refresh_token):
    body = {"access_token": "a", "expires_in": 60, "refresh_token": refresh_token}

    assert parse_token_answer(token_answer(body), make_settings(), now=NOW).refresh_token is None


@pytest.mark.parametrize(
    ("error", "reason"),
    [("invalid_client", "client_id/client_secret were refused"), ("invalid_grant", "user name/password")],
)
@pytest.mark.parametrize("status", [400, 401])
def test_refused_credentials_say_which_ones(error, reason, status):
    body = {"error": error, "error_description": "Client authentication failed."}

    with pytest.raises(OFSAuthenticationError) as raised:
        parse_token_answer(token_answer(body, status=status), make_settings())

    message = str(raised.value)
    assert error in message
    assert reason in message
    assert repr(CONN_ID) in message
    assert make_settings().iam_url in message
    assert "user-password-1" not in message
    assert "client-secret-1" not in message
    assert isinstance(raised.value, AirflowFailException), "a retry could lock the account"


def test_other_oauth_errors_carry_the_server_description():
    body = {"error": "unsupported_grant_type", "error_description": "refresh_token is not allowed for this client"}

    with pytest.raises(OFSAuthenticationError, match="refresh_token is not allowed"):
        parse_token_answer(token_answer(body, status=400), make_settings())


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (503, FailureKind.UNAVAILABLE),
        (429, FailureKind.THROTTLED),
        (500, FailureKind.SERVER_ERROR),
        (404, FailureKind.HTTP_ERROR),
    ],
)
def test_token_endpoint_http_errors_are_transport_errors(status, kind):
    with pytest.raises(OFSTransportError) as raised:
        parse_token_answer(token_answer(b"<html>down</html>", status=status, content_type="text/html"), make_settings())

    assert raised.value.kind is kind


@pytest.mark.parametrize(
    "raw",
    [
        b"<html>login page</html>",
        b'{"token_type": "Bearer"}',
        b'{"access_token": ""}',
        b'{"access_token": 12}',
        b"{",
        b"[]",
    ],
)
def test_token_answer_without_an_access_token_is_malformed(raw):
    with pytest.raises(OFSTransportError, match="access_token") as raised:
        parse_token_answer(token_answer(raw), make_settings())

    assert raised.value.kind is FailureKind.MALFORMED


def test_pre_issued_token_is_never_refreshed():
    token = pre_issued_token(make_settings(access_token="pre-issued"))

    assert token.access_token == "pre-issued"
    assert token.refresh_token is None
    assert token.is_fresh(NOW * 1000)


def test_token_source_tries_the_refresh_grant_first_then_the_password_grant():
    settings = make_settings()
    stale = Token(access_token="old", expires_at=NOW, refresh_token="refresh-1", refresh_at=NOW)

    assert token_source(settings, None) == (None,)
    assert token_source(settings, stale) == ("refresh-1", None)
    assert token_source(settings, Token(access_token="old", expires_at=NOW, refresh_at=NOW)) == (None,)


def test_token_repr_shows_no_token():
    text = repr(Token(access_token="acc-secret", expires_at=NOW, refresh_token="ref-secret", refresh_at=NOW))

    assert "acc-secret" not in text
    assert "ref-secret" not in text


def test_redact_replaces_every_secret():
    assert redact("user pw1 sent sec2 and pw1", ["pw1", "sec2", ""]) == "user *** sent *** and ***"


# ------------------------------------------------------------------------------------------------ cache


def fresh_token(name="t", lifetime=3600.0):
    import time

    now = time.time()
    return Token(
        access_token=name, expires_at=now + lifetime, refresh_token=f"{name}-refresh", refresh_at=now + lifetime - 60
    )


def test_cache_fetches_once_and_then_serves_the_fresh_token():
    cache = TokenCache()
    fetched = []

    def fetch(stale):
        fetched.append(stale)
        return fresh_token("t1")

    assert cache.get("k", fetch).access_token == "t1"
    assert cache.get("k", fetch).access_token == "t1"
    assert fetched == [None]


def test_cache_hands_the_stale_token_to_the_fetch_so_it_can_refresh():
    cache = TokenCache()
    stale = Token(access_token="old", expires_at=0.0, refresh_token="old-refresh", refresh_at=0.0)
    cache.get("k", lambda _: stale)
    seen = []

    def fetch(previous):
        seen.append(previous)
        return fresh_token("new")

    assert cache.get("k", fetch).access_token == "new"
    assert seen == [stale]


def test_cache_keeps_identities_apart():
    cache = TokenCache()

    assert cache.get("a", lambda _: fresh_token("ta")).access_token == "ta"
    assert cache.get("b", lambda _: fresh_token("tb")).access_token == "tb"
    assert cache.fresh("a").access_token == "ta"


def test_invalidate_keeps_the_refresh_token_for_the_next_fetch():
    cache = TokenCache()
    refused = cache.get("k", lambda _: fresh_token("t1"))

    cache.invalidate("k", refused)

    assert cache.fresh("k") is None
    seen = []
    cache.get("k", lambda stale: seen.append(stale) or fresh_token("t2"))
    assert seen[0].refresh_token == "t1-refresh"


def test_invalidate_leaves_a_token_another_caller_already_replaced():
    cache = TokenCache()
    refused = cache.get("k", lambda _: fresh_token("t1"))
    cache.invalidate("k", refused)
    replacement = cache.get("k", lambda _: fresh_token("t2"))

    cache.invalidate("k", refused)  # a late caller that still holds the refused token

    assert cache.fresh("k") is replacement


def test_twenty_threads_share_one_fetch():
    cache = TokenCache()
    barrier = threading.Barrier(20)
    calls = []
    results = []

    def fetch(_):
        calls.append(1)
        return fresh_token("shared")

    def worker():
        barrier.wait()
        results.append(cache.get("k", fetch).access_token)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(calls) == 1
    assert results == ["shared"] * 20


def test_coroutines_of_one_loop_share_one_fetch():
    cache = TokenCache()
    calls = []

    async def fetch(_):
        calls.append(1)
        await asyncio.sleep(0.01)
        return fresh_token("shared")

    async def main():
        return await asyncio.gather(*(cache.aget("k", fetch) for _ in range(200)))

    tokens = asyncio.run(main())

    assert len(calls) == 1
    assert {token.access_token for token in tokens} == {"shared"}


def test_a_failed_async_fetch_reaches_every_waiter_and_the_next_call_fetches_again():
    cache = TokenCache()
    calls = []

    async def failing(_):
        calls.append(1)
        await asyncio.sleep(0.01)
        raise OFSAuthenticationError("refused")

    async def main():
        return await asyncio.gather(*(cache.aget("k", failing) for _ in range(5)), return_exceptions=True)

    outcomes = asyncio.run(main())

    assert len(calls) == 1
    assert all(isinstance(outcome, OFSAuthenticationError) for outcome in outcomes)

    async def succeed(_):
        return fresh_token("after")

    assert asyncio.run(cache.aget("k", succeed)).access_token == "after"


def test_clear_forgets_every_token():
    cache = TokenCache()
    cache.get("k", lambda _: fresh_token())

    cache.clear()

    assert cache.fresh("k") is None
