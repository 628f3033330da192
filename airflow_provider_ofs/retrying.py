"""The retry policy (README, "Retries and idempotency") run by tenacity, the same for sync and async calls."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from airflow_provider_ofs.exceptions import OFSSchedulerError
from airflow_provider_ofs.metrics import FAILURE, SUCCESS, call_ended, call_retried
from airflow_provider_ofs.protocol import ConnectionSettings, HttpRequest, final_error, may_retry, retry_wait

ResultT = TypeVar("ResultT")


def retried(
    exchange: Callable[[], ResultT], request: HttpRequest, settings: ConnectionSettings, log: Any, subject: str
) -> ResultT:
    """``exchange()`` (one attempt at ``request``), repeated as the retry policy allows; else the final error.

    The first attempt runs without tenacity (see ``_replaying``); ``subject`` names what the call was
    about in the final error (``raise_final``).
    """
    started = time.time()
    try:
        result = exchange()
    except OFSSchedulerError as error:
        attempt_again = _replaying(error, exchange)
    else:
        call_ended(request.verb, SUCCESS, started)
        return result
    try:
        for attempt in Retrying(**retry_arguments(request.verb, settings, log)):
            with attempt:  # the block swallows a failed attempt: tenacity raises it on the next turn
                result = attempt_again()
                call_ended(request.verb, SUCCESS, started)  # never raises
                return result
    except OFSSchedulerError as error:
        call_ended(request.verb, FAILURE, started)
        raise_final(error, request, subject, started)
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


async def aretried(
    exchange: Callable[[], Awaitable[ResultT]],
    request: HttpRequest,
    settings: ConnectionSettings,
    log: Any,
    subject: str,
) -> ResultT:
    """``retried`` for a coroutine: ``await exchange()``, repeated as the retry policy allows; else the final error."""
    started = time.time()
    try:
        result = await exchange()
    except OFSSchedulerError as error:
        attempt_again = _replaying(error, exchange)
    else:
        call_ended(request.verb, SUCCESS, started)
        return result
    try:
        async for attempt in AsyncRetrying(**retry_arguments(request.verb, settings, log)):
            with attempt:
                result = await attempt_again()
                call_ended(request.verb, SUCCESS, started)
                return result
    except OFSSchedulerError as error:
        call_ended(request.verb, FAILURE, started)
        raise_final(error, request, subject, started)
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


def _replaying(first_failure: OFSSchedulerError, exchange: Callable[[], ResultT]) -> Callable[[], ResultT]:
    """An attempt function for tenacity whose first call re-raises the failure of the attempt made without it.

    Building a tenacity retry loop for every call allocated enough to trigger full garbage collections of
    a triggerer's heap, which doubled the CPU per status poll (bench/RESULTS.md). So the first attempt is
    made directly, and only a failed one enters tenacity, as tenacity's own first attempt: the retry rule,
    waits, log lines and attempt budget stay exactly those of ``retry_arguments``.
    """
    pending = [first_failure]

    def attempt() -> ResultT:
        if pending:
            raise pending.pop()
        return exchange()

    return attempt


def retry_arguments(verb: str, settings: ConnectionSettings, log: Any) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying``/``AsyncRetrying`` for one call of ``verb``."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return retry_wait(error, state.attempt_number, settings.retry_wait)

    def before_sleep(state: RetryCallState) -> None:
        call_retried(verb)
        error = state.outcome.exception() if state.outcome else None
        # The error's message already names the call (``ESI status at ...``, ``IAM token endpoint at ...``).
        log.warning(
            "%s; retrying in %.1f s (attempt %d of %d)",
            error,
            state.upcoming_sleep,
            state.attempt_number + 1,
            settings.retry_attempts,
        )

    return {
        "stop": stop_after_attempt(settings.retry_attempts),
        "wait": wait,
        "retry": retry_if_exception(lambda error: may_retry(error, verb)),
        "before_sleep": before_sleep,
        "reraise": True,
    }


def raise_final(error: BaseException, request: HttpRequest, subject: str, started: float) -> NoReturn:
    """Raise what the caller sees once retrying stopped (``protocol.final_error``), chained to the last failure.

    Call it from the ``except`` block that caught ``error``; an error that stays as it is is re-raised
    unchanged rather than chained to itself.
    """
    final = final_error(error, request, subject, (started, time.time()))
    if final is error:
        raise error
    raise final from error
