"""The retry policy of SPEC §6 as tenacity arguments, the same for the sync hook and the async client."""

from __future__ import annotations

from typing import Any

from tenacity import RetryCallState, retry_if_exception, stop_after_attempt

from airflow_provider_ofs.protocol import ConnectionSettings, may_retry, retry_wait


def retry_arguments(verb: str, settings: ConnectionSettings, log: Any) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying``/``AsyncRetrying`` for one call of ``verb``."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return retry_wait(error, state.attempt_number, settings.retry_wait)

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "ESI %s: %s; retrying in %.1f s (attempt %d of %d)",
            verb,
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
