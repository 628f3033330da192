"""When a failed exchange may be sent again, how long to wait, and the error once retrying stops."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timezone

from airflow_provider_ofs.exceptions import (
    FailureKind,
    OFSConnectionConfigError,
    OFSOutcomeUnknownError,
    OFSTokenUnavailableError,
    OFSTransportError,
)
from airflow_provider_ofs.protocol.calls import HttpRequest, Verb


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header given in seconds; ``None`` when absent or a date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def may_retry(error: BaseException, verb: str) -> bool:
    """The retry rule (README, "Retries and idempotency"), for both transports.

    A status poll is retried on every transient failure; a call that may start, stop or change a run only
    when the server certainly did not process it (no connection, 429, 503).
    """
    if not isinstance(error, OFSTransportError) or not error.kind.is_transient:
        return False
    return verb in (Verb.STATUS.value, "token") or error.kind.request_was_not_processed


def retry_wait(
    error: BaseException | None, attempt: int, initial_wait: float, jitter: Callable[[], float] = random.random
) -> float:
    """Seconds before the next attempt: exponential backoff capped at 30 s, at least any Retry-After.

    A 429 without ``Retry-After`` (Oracle IAM's way, ESI-NOTES 18) waits between half and all of the backoff,
    by ``jitter()`` (a number in [0, 1)): processes throttled together do not all come back together.
    """
    backoff: float = min(30.0, initial_wait * 2.0 ** max(0, attempt - 1))
    if not isinstance(error, OFSTransportError):
        return backoff
    if error.retry_after is not None:
        return max(backoff, min(float(error.retry_after), 300.0))
    return backoff * (0.5 + jitter() / 2) if error.kind is FailureKind.THROTTLED else backoff


#: What to do after a mutating call whose outcome is unknown, per verb; ``{subject}`` and ``{window}`` filled in.
WAYS_ON = {
    "trigger": (
        "Look in the OFS Batch Monitor for a run of {subject} started {window}. If none started, clear this task "
        "to trigger it again; if one did, watch it by its run id with OFSBatchRunSensor, or restart it with "
        "OFSRestartBatchOperator if it failed."
    ),
    "restart": (
        "Look in the OFS Batch Monitor at {subject} {window}. If it was not restarted, clear this task to restart "
        "it again; if it was, watch the run with OFSBatchRunSensor."
    ),
    "rerun": (
        "Look in the OFS Batch Monitor for a rerun of {subject} started {window}. If none started, clear this task "
        "to rerun it; if one did, watch it by its run id with OFSBatchRunSensor."
    ),
    "interrupt": (
        "Look in the OFS Batch Monitor at {subject}: if it was not interrupted, clear this task to interrupt it again."
    ),
}
#: HTTP statuses that, without an API answer, mean the URL leads to no ESI verb: nothing was processed.
_NOT_ESI = (404, 405)


def final_error(
    error: BaseException, request: HttpRequest, subject: str, window: tuple[float, float] | None = None
) -> BaseException:
    """The error to raise once retrying stops; says when a mutating call may have been processed.

    ``window`` is when the call was first sent and when it gave up (epoch seconds): a mutating call whose
    outcome is unknown names it, so that a person can find the run in the OFS Batch Monitor.
    """
    if not isinstance(error, OFSTransportError):
        return error
    if request.verb == "token":
        return OFSTokenUnavailableError(f"{error}; gave up after the retry budget")
    if error.http_status in _NOT_ESI and error.kind is FailureKind.HTTP_ERROR:
        return OFSConnectionConfigError(
            f"ESI {request.verb} of {subject}: {request.url} answered HTTP {error.http_status} without an API "
            f"status, so the request never reached the External Scheduler Interface and nothing was processed. "
            f"Check the connection's host: the application base URL, the part before /SchedulerService."
        )
    if request.verb == Verb.STATUS.value or error.kind.request_was_not_processed:
        return error
    happened = f"ESI {request.verb} of {subject} at {request.url}: {error.kind.value} ({error})"
    return outcome_unknown(request.verb, subject, happened, window)


def outcome_unknown(
    verb: str, subject: str, happened: str, window: tuple[float, float] | None
) -> OFSOutcomeUnknownError:
    """The error for a trigger, restart, rerun or interrupt that may have been processed: what happened, and
    where and when to look in the OFS Batch Monitor (``window``, epoch seconds) before acting again."""
    ways_on = WAYS_ON.get(verb, "Check the OFS Batch Monitor before trying again.")
    where_to_look = ways_on.format(subject=subject, window=describe_window(window))
    return OFSOutcomeUnknownError(
        f"{happened}. The request may have been processed, so it was not repeated, and the task is not retried "
        f"by Airflow either: a new try could act twice. {where_to_look}"
    )


def utc_text(moment: float) -> str:
    """An epoch time as the Batch Monitor shows it, in UTC: ``2026-03-31 23:05:00``."""
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def describe_window(window: tuple[float, float] | None) -> str:
    if window is None:
        return "around now"
    return f"between {utc_text(window[0])} and {utc_text(window[1])} UTC"
