"""The retry policy of SPEC §6 as tenacity arguments, the same for the sync hook and the async client."""

from __future__ import annotations

from typing import Any, NoReturn

from tenacity import RetryCallState, retry_if_exception, stop_after_attempt

from airflow_provider_ofs.protocol import ConnectionSettings, HttpRequest, final_error, may_retry, retry_wait


def retry_arguments(verb: str, settings: ConnectionSettings, log: Any) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying``/``AsyncRetrying`` for one call of ``verb``."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return retry_wait(error, state.attempt_number, settings.retry_wait)

    def before_sleep(state: RetryCallState) -> None:
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


def raise_final(error: BaseException, request: HttpRequest, subject: str) -> NoReturn:
    """Raise what the caller sees once retrying stopped (``protocol.final_error``), chained to the last failure.

    Call it from the ``except`` block that caught ``error``; an error that stays as it is is re-raised
    unchanged rather than chained to itself.
    """
    final = final_error(error, request, subject)
    if final is error:
        raise error
    raise final from error
