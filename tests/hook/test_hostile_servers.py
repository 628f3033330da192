"""Hostile servers on 127.0.0.1 against both transports: redirects, trickles, floods, lies (docs/hostile-servers.md)."""

from __future__ import annotations

import pytest

from airflow_provider_ofs.exceptions import (
    FailureKind,
    OFSAuthenticationError,
    OFSConnectionConfigError,
    OFSOutcomeUnknownError,
    OFSSchedulerError,
    OFSTokenUnavailableError,
    OFSTransportError,
)
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.protocol import MAX_ANSWER_BYTES
from tests.hook.conftest import run_on_loop
from tests.hook.hostile import (
    ONGOING,
    RUN_ID,
    TRIGGERED,
    bad_gzip,
    flood,
    gzip_bomb,
    json_answer,
    redirect,
    short_body,
    trickle,
)

TOKEN = {"access_token": "issued-by-the-thief", "token_type": "Bearer", "expires_in": 3600}


def sync_status() -> object:
    return OFSSchedulerHook().get_status(RUN_ID)


def async_status() -> object:
    return run_on_loop(lambda: OFSSchedulerHook().aget_status(RUN_ID))


def async_interrupt() -> object:
    return run_on_loop(lambda: OFSSchedulerHook().ainterrupt("BATCH", RUN_ID))


STATUS_PATHS = pytest.mark.parametrize("status", [sync_status, async_status], ids=["sync", "async"])


# ---------------------------------------------------------------------------------------- 1: redirects


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
@STATUS_PATHS
def test_a_redirect_from_the_token_endpoint_sends_the_password_nowhere(hostile, connect_dict, code, status):
    thief = hostile(json_answer(TOKEN))
    iam = hostile(redirect(code, f"http://localhost:{thief.port}/oauth2/v1/token"))
    connect_dict(iam.iam_connection())

    with pytest.raises(OFSConnectionConfigError) as raised:
        status()

    message = str(raised.value)
    assert f"HTTP {code}" in message
    assert "'localhost'" in message  # the Location host
    assert "not processed" in message
    assert "'iam_url'" in message
    assert "USER-PASSWORD-7f3a" not in message
    assert thief.received == []
    assert len(iam.received) == 1  # not retried either


def test_an_sso_redirect_on_trigger_is_a_config_error_not_a_lost_answer(hostile, connect_dict):
    sso = hostile(json_answer({"html": "login page"}))
    esi = hostile(redirect(302, f"http://localhost:{sso.port}/sso/login?next=/app"))
    hook = connect_dict(esi.esi_connection())

    with pytest.raises(OFSConnectionConfigError) as raised:
        hook.trigger("BATCH")

    assert not isinstance(raised.value, OFSOutcomeUnknownError)
    assert "not processed" in str(raised.value)
    assert "'localhost'" in str(raised.value)
    assert "'host'" in str(raised.value)
    assert sso.received == []


@STATUS_PATHS
def test_a_redirect_on_a_status_poll_is_not_followed_nor_retried(hostile, connect_dict, status):
    other = hostile(json_answer(ONGOING))
    esi = hostile(redirect(307, f"{other.url}/SchedulerService/rest-api/v1/external/status"))
    connect_dict(esi.esi_connection())

    with pytest.raises(OFSConnectionConfigError, match="HTTP 307"):
        status()

    assert other.received == []  # so the bearer token went nowhere else either
    assert len(esi.received) == 1


def test_a_redirect_on_an_async_interrupt_is_a_config_error(hostile, connect_dict):
    esi = hostile(redirect(303, "/elsewhere"))
    connect_dict(esi.esi_connection())

    with pytest.raises(OFSConnectionConfigError, match=r"'127\.0\.0\.1'"):
        async_interrupt()


# ---------------------------------------------------------------------------- 3: the timeout bounds the call


@pytest.mark.timeout(60)
def test_a_trickling_status_answer_times_out_as_a_whole_on_the_sync_path(hostile, connect_dict):
    esi = hostile(trickle(ONGOING, every=0.25))  # about 20 s for the whole answer
    hook = connect_dict(esi.esi_connection(timeout=1, retry_attempts=1))

    with pytest.raises(OFSTransportError) as raised:
        hook.get_status(RUN_ID)

    assert raised.value.kind is FailureKind.TIMEOUT


@pytest.mark.timeout(60)
def test_a_trickling_trigger_answer_may_have_been_processed(hostile, connect_dict):
    esi = hostile(trickle(TRIGGERED, every=0.25))
    hook = connect_dict(esi.esi_connection(timeout=1))

    with pytest.raises(OFSOutcomeUnknownError, match="no answer arrived within the timeout"):
        hook.trigger("BATCH")

    assert len(esi.received) == 1


@pytest.mark.timeout(60)
def test_a_trickling_status_answer_times_out_on_the_async_path(hostile, connect_dict):
    esi = hostile(trickle(ONGOING, every=0.25))
    connect_dict(esi.esi_connection(timeout=1, retry_attempts=1))

    with pytest.raises(OFSTransportError) as raised:
        async_status()

    assert raised.value.kind is FailureKind.TIMEOUT


# ------------------------------------------------------------------------------------ 4: answers are capped


@pytest.mark.timeout(60)
@pytest.mark.parametrize("content_length", [str(400 * 1024 * 1024), None], ids=["announced", "until-close"])
@STATUS_PATHS
def test_a_flood_of_a_status_answer_is_refused_past_the_limit(hostile, connect_dict, content_length, status):
    esi = hostile(flood(content_length))
    connect_dict(esi.esi_connection(retry_attempts=2))

    with pytest.raises(OFSTransportError) as raised:
        status()

    assert raised.value.kind is FailureKind.MALFORMED
    assert str(MAX_ANSWER_BYTES) in str(raised.value)
    assert len(esi.received) == 2  # retried like any unparseable answer


@pytest.mark.timeout(60)
def test_a_flood_of_a_trigger_answer_may_have_been_processed(hostile, connect_dict):
    esi = hostile(flood(None))
    hook = connect_dict(esi.esi_connection())

    with pytest.raises(OFSOutcomeUnknownError, match=str(MAX_ANSWER_BYTES)):
        hook.trigger("BATCH")

    assert len(esi.received) == 1


@pytest.mark.timeout(60)
@STATUS_PATHS
def test_a_flood_from_the_token_endpoint_is_refused(hostile, connect_dict, status):
    iam = hostile(flood(None))
    connect_dict(iam.iam_connection(retry_attempts=2))

    with pytest.raises(OFSTokenUnavailableError, match=str(MAX_ANSWER_BYTES)):
        status()


@pytest.mark.timeout(60)
@STATUS_PATHS
def test_a_gzip_bomb_is_refused_past_the_limit(hostile, connect_dict, status):
    esi = hostile(gzip_bomb(64 * 1024 * 1024))  # about 64 KiB on the wire
    connect_dict(esi.esi_connection(retry_attempts=1))

    with pytest.raises(OFSTransportError, match=str(MAX_ANSWER_BYTES)):
        status()


@pytest.mark.timeout(60)
@STATUS_PATHS
def test_a_huge_content_length_over_a_tiny_body_fails_cleanly(hostile, connect_dict, status):
    esi = hostile(short_body(str(2 * 1024**3), b'{"statusC'))
    connect_dict(esi.esi_connection(retry_attempts=1))

    with pytest.raises(OFSTransportError) as raised:
        status()

    assert raised.value.kind is FailureKind.MALFORMED


@pytest.mark.timeout(60)
@STATUS_PATHS
def test_a_short_body_under_the_limit_is_a_dropped_connection(hostile, connect_dict, status):
    esi = hostile(short_body("100", b'{"statusCode": "0"'))
    connect_dict(esi.esi_connection(retry_attempts=1))

    with pytest.raises(OFSTransportError) as raised:
        status()

    assert raised.value.kind is FailureKind.DROPPED


@STATUS_PATHS
def test_deeply_nested_json_fails_cleanly(hostile, connect_dict, status):
    from tests.hook.hostile import head

    raw = b"[" * 100_000 + b"]" * 100_000

    def respond(handler):
        head(handler, 200, {"Content-Type": "application/json", "Content-Length": str(len(raw))})
        handler.wfile.write(raw)

    connect_dict(hostile(respond).esi_connection(retry_attempts=1))

    with pytest.raises(OFSTransportError) as raised:
        status()

    assert raised.value.kind is FailureKind.MALFORMED


# ------------------------------------------------------------------ 6: error texts from our own words only


def test_a_token_from_iam_with_a_line_break_is_never_sent_nor_shown(hostile, connect_dict):
    esi = hostile(json_answer(ONGOING))
    iam = hostile(json_answer({"access_token": "abc\r\nX-Smuggled: 1", "expires_in": 3600}))
    hook = connect_dict(iam.iam_connection(esi_host=esi.url))

    with pytest.raises(OFSAuthenticationError) as raised:
        hook.get_status(RUN_ID)

    assert "abc" not in str(raised.value)
    assert "Smuggled" not in str(raised.value)
    assert esi.received == []


def test_a_pre_issued_token_with_a_line_break_is_named_not_shown_by_test_connection(hostile, connect_dict):
    esi = hostile(json_answer(ONGOING))
    hook = connect_dict(esi.esi_connection(access_token="abc\ndef-SECRET"))

    ok, message = hook.test_connection()

    assert not ok
    assert "'access_token'" in message
    assert "SECRET" not in message
    assert esi.received == []


@STATUS_PATHS
def test_an_unreadable_gzip_body_on_plain_http_says_nothing_of_tls(hostile, connect_dict, status):
    esi = hostile(bad_gzip())
    connect_dict(esi.esi_connection(retry_attempts=1))

    with pytest.raises(OFSSchedulerError) as raised:
        status()

    message = str(raised.value)
    assert isinstance(raised.value, OFSTransportError)
    assert "TLS" not in message
    assert "'verify'" not in message
    assert "decompress" not in message.lower()  # no library text


# ------------------------------------------------------------------------- 7: credentials over plain http


def test_plain_http_iam_url_and_host_are_warned_about_once_per_process(ofs_simulator_factory, connect, logs):
    from tests.hook.conftest import CATALOGUE

    hook = connect(ofs_simulator_factory(CATALOGUE))
    hook.get_status(hook.trigger("QUICK"))
    type(hook)(ofs_conn_id=hook.ofs_conn_id).get_status(hook.trigger("QUICK"))  # a task's second hook: no repeat

    warnings = [line for line in logs.messages("warning") if "plain http://" in line]
    assert len(warnings) == 2
    assert any("'iam_url'" in line and "password" in line for line in warnings)
    assert any("'host'" in line and "bearer token" in line for line in warnings)


def test_plain_http_is_warned_about_on_the_async_path_too(hostile, connect_dict, logs):
    connect_dict(hostile(json_answer(ONGOING)).esi_connection())

    async_status()

    warnings = [line for line in logs.messages("warning") if "plain http://" in line]
    assert len(warnings) == 1  # the host only: a pre-issued token needs no iam_url
    assert "'host'" in warnings[0]
    assert "pre-issued-7f3a" not in warnings[0]


ECHOING_STATUS = {
    "statusCode": "0",
    "batchRunId": "RUN_1",
    "batchStatusCode": "-1",
    "batchStatus": "failed\nINFO - forged log line",
    "taskStatusList": [
        {"taskCode": "Bearer pre-issued", "statusCode": "-1", "taskStatus": "token pre-issued refused"},
        {"taskCode": "STEP_\ud800" + "X" * 5000, "statusCode": "-1"},
    ],
}


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_status_echoing_the_token_control_characters_and_long_codes_is_read_clean(scripted_esi, connect_dict, path):
    esi = scripted_esi([ECHOING_STATUS])
    hook = connect_dict(esi.connection())  # its pre-issued access_token is "pre-issued"

    if path == "sync":
        status = hook.get_status("RUN_1")
    else:
        status = run_on_loop(lambda: OFSSchedulerHook(hook.ofs_conn_id).aget_status("RUN_1"))

    published = repr((status.failed_tasks, status.status_texts, status.state_text))
    assert "pre-issued" not in published
    assert "\n" not in status.state_text
    assert all(code.isprintable() and len(code) < 250 for code in status.failed_tasks)
