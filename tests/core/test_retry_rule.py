"""The retry rule: which failures each verb may repeat, how long to wait, and the final error."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_ofs.exceptions import (
    FailureKind,
    OFSAuthenticationError,
    OFSCallFailedError,
    OFSConnectionConfigError,
    OFSInvalidArgumentsError,
    OFSInvalidHeadersError,
    OFSNoExecutableJobError,
    OFSNotOngoingError,
    OFSObjectNotFoundError,
    OFSOutcomeUnknownError,
    OFSRunFailedError,
    OFSTokenUnavailableError,
    OFSTransportError,
    OFSUnknownCodeError,
)
from airflow_provider_ofs.protocol import (
    Verb,
    build_run_action,
    build_status,
    build_token_request,
    build_trigger,
    final_error,
    may_retry,
    retry_wait,
)
from tests.core.factory import make_settings

MUTATING = ["trigger", "interrupt", "restart", "rerun"]
IDEMPOTENT = ["status", "token"]
SAFE_FOR_MUTATING = {FailureKind.NOT_CONNECTED, FailureKind.THROTTLED, FailureKind.UNAVAILABLE}


def transport(kind, retry_after=None):
    return OFSTransportError(f"boom: {kind.value}", kind=kind, retry_after=retry_after)


def request_for(verb):
    settings = make_settings()
    if verb == "trigger":
        return build_trigger(settings, "B")
    if verb == "status":
        return build_status(settings, "R")
    if verb == "token":
        return build_token_request(settings)
    return build_run_action(settings, Verb(verb), "B", "R")


# The table, written out: what each verb may repeat after each kind of failure.
EXPECTED = {
    (verb, kind): (kind is not FailureKind.HTTP_ERROR) if verb in IDEMPOTENT else (kind in SAFE_FOR_MUTATING)
    for verb in MUTATING + IDEMPOTENT
    for kind in FailureKind
}


@pytest.mark.parametrize(("verb", "kind"), sorted(EXPECTED, key=lambda pair: (pair[0], pair[1].name)))
def test_may_retry_table(verb, kind):
    assert may_retry(transport(kind), verb) is EXPECTED[(verb, kind)]


@pytest.mark.parametrize("verb", MUTATING)
@pytest.mark.parametrize(
    "kind", [FailureKind.DROPPED, FailureKind.TIMEOUT, FailureKind.SERVER_ERROR, FailureKind.MALFORMED]
)
def test_mutating_call_is_never_repeated_when_the_server_may_have_acted(verb, kind):
    assert not may_retry(transport(kind), verb)


def test_verb_enum_and_its_value_give_the_same_answer():
    assert may_retry(transport(FailureKind.TIMEOUT), Verb.STATUS) is True
    assert may_retry(transport(FailureKind.TIMEOUT), Verb.TRIGGER) is False


@pytest.mark.parametrize(
    "error",
    [
        OFSObjectNotFoundError("x", code=-3),
        OFSNotOngoingError("x", code=-8),
        OFSUnknownCodeError("x", code=-9),
        OFSAuthenticationError("x"),
        OFSConnectionConfigError("x"),
        OFSTokenUnavailableError("x"),
        ValueError("x"),
        KeyboardInterrupt(),
    ],
)
@pytest.mark.parametrize("verb", MUTATING + IDEMPOTENT)
def test_errors_that_are_not_transport_failures_are_never_retried(error, verb):
    assert not may_retry(error, verb)


@pytest.mark.parametrize(("attempt", "wait"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (10, 30.0), (50, 30.0)])
def test_retry_wait_backs_off_exponentially_up_to_30_seconds(attempt, wait):
    assert retry_wait(transport(FailureKind.SERVER_ERROR), attempt, 0.5) == wait


def test_retry_wait_honours_a_longer_retry_after():
    assert retry_wait(transport(FailureKind.THROTTLED, retry_after=7.0), 1, 0.02) == 7.0


def test_retry_wait_keeps_the_backoff_when_retry_after_is_shorter():
    assert retry_wait(transport(FailureKind.THROTTLED, retry_after=1.0), 4, 1.0) == 8.0


def test_retry_after_is_capped_at_five_minutes():
    assert retry_wait(transport(FailureKind.THROTTLED, retry_after=86_400.0), 1, 1.0) == 300.0


@pytest.mark.parametrize(("jitter", "wait"), [(0.0, 2.0), (0.5, 3.0), (0.999, 3.998)])
def test_a_429_without_retry_after_waits_a_jittered_part_of_the_backoff(jitter, wait):
    throttled = transport(FailureKind.THROTTLED)

    assert retry_wait(throttled, 3, 1.0, jitter=lambda: jitter) == pytest.approx(wait)


def test_only_a_429_without_retry_after_is_jittered():
    never = lambda: pytest.fail("jitter used")  # noqa: E731

    assert retry_wait(transport(FailureKind.SERVER_ERROR), 3, 1.0, jitter=never) == 4.0
    assert retry_wait(transport(FailureKind.THROTTLED, retry_after=1.0), 3, 1.0, jitter=never) == 4.0


def test_retry_wait_without_an_error_is_the_backoff():
    assert retry_wait(None, 1, 0.25) == 0.25


# --------------------------------------------------------------------------------------------- final error


@pytest.mark.parametrize("verb", MUTATING)
@pytest.mark.parametrize(
    "kind", [FailureKind.DROPPED, FailureKind.TIMEOUT, FailureKind.SERVER_ERROR, FailureKind.MALFORMED]
)
def test_mutating_call_that_may_have_been_processed_says_so(verb, kind):
    error = final_error(transport(kind), request_for(verb), "run R of B")

    assert isinstance(error, OFSOutcomeUnknownError)
    assert "may have been processed" in str(error)
    assert verb in str(error)
    assert "run R of B" in str(error)
    assert kind.value in str(error)


def test_a_lost_trigger_answer_names_the_batch_the_host_the_time_window_and_both_ways_on():
    window = (1_790_000_000.0, 1_790_000_007.5)  # 2026-09-21 14:13:20 to 14:13:27 UTC

    error = final_error(transport(FailureKind.DROPPED), request_for("trigger"), "batch DAILY_LOAD", window)

    text = str(error)
    assert isinstance(error, OFSOutcomeUnknownError)
    assert "batch DAILY_LOAD" in text
    assert "https://tenant.example.com/app/SchedulerService/rest-api/v1/external/trigger" in text
    assert "between 2026-09-21 14:13:20 and 2026-09-21 14:13:27 UTC" in text
    assert "clear this task to trigger it again" in text
    assert "OFSBatchRunSensor" in text
    assert "OFSRestartBatchOperator" in text


@pytest.mark.parametrize("verb", MUTATING + IDEMPOTENT[:1])
@pytest.mark.parametrize("http_status", [404, 405])
def test_a_404_or_405_without_api_status_never_reached_esi_and_names_the_url(verb, http_status):
    error = OFSTransportError("not found", kind=FailureKind.HTTP_ERROR, http_status=http_status)

    final = final_error(error, request_for(verb), "run R of B")

    assert isinstance(final, OFSConnectionConfigError)
    assert f"HTTP {http_status}" in str(final)
    assert f"https://tenant.example.com/app/SchedulerService/rest-api/v1/external/{verb}" in str(final)
    assert "nothing was processed" in str(final)
    assert "may have been processed" not in str(final)


@pytest.mark.parametrize(
    "error_class",
    [
        OFSOutcomeUnknownError,
        OFSObjectNotFoundError,
        OFSInvalidArgumentsError,
        OFSInvalidHeadersError,
        OFSNoExecutableJobError,
        OFSConnectionConfigError,
    ],
)
def test_errors_no_retry_can_fix_fail_the_task_at_once(error_class):
    assert issubclass(error_class, AirflowFailException)


@pytest.mark.parametrize(
    "error_class",
    [OFSRunFailedError, OFSTransportError, OFSTokenUnavailableError, OFSNotOngoingError, OFSCallFailedError],
)
def test_failed_runs_and_transient_errors_stay_retryable_by_airflow(error_class):
    assert not issubclass(error_class, AirflowFailException)


@pytest.mark.parametrize("verb", MUTATING)
@pytest.mark.parametrize("kind", sorted(SAFE_FOR_MUTATING, key=lambda kind: kind.name))
def test_mutating_call_that_certainly_was_not_processed_keeps_the_transport_error(verb, kind):
    error = transport(kind)

    assert final_error(error, request_for(verb), "run R of B") is error


@pytest.mark.parametrize("kind", list(FailureKind))
def test_status_keeps_the_transport_error(kind):
    error = transport(kind)

    assert final_error(error, request_for("status"), "run R") is error


@pytest.mark.parametrize("kind", list(FailureKind))
def test_token_endpoint_failure_becomes_token_unavailable(kind):
    error = final_error(transport(kind), request_for("token"), "connection 'c'")

    assert isinstance(error, OFSTokenUnavailableError)
    assert "boom" in str(error)


@pytest.mark.parametrize("verb", MUTATING + IDEMPOTENT)
def test_api_and_auth_errors_pass_through_unchanged(verb):
    for error in (OFSNotOngoingError("x", code=-8), OFSAuthenticationError("refused")):
        assert final_error(error, request_for(verb), "s") is error


@pytest.mark.parametrize("kind", list(FailureKind))
def test_only_http_errors_without_api_status_are_not_transient(kind):
    assert kind.is_transient is (kind is not FailureKind.HTTP_ERROR)
