"""Errors the provider raises: one family per documented ESI error code, plus run, auth and transport errors.

Errors that no Airflow retry can fix, or whose retry could start a second run, also derive from Airflow's
``AirflowFailException``: the task fails at once, whatever its ``retries``. The others (a failed run,
a transient network error) stay retryable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any, ParamSpec, TypeVar

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_ofs.published import listed
from airflow_provider_ofs.states import RunState

P = ParamSpec("P")
R = TypeVar("R")


class OFSSchedulerError(AirflowException):
    """Base of every error of this provider; ``code`` holds the documented ESI code when there is one."""

    code: int | None = None

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by state, since the subclasses' constructors take other arguments than the message.

        Errors cross processes: Airflow 3.0's OpenLineage listener hands the task's error to a process pool.
        """
        return _unpickled, (type(self), self.args), self.__dict__


def _unpickled(cls: type[OFSSchedulerError], args: tuple[Any, ...]) -> OFSSchedulerError:
    """An error rebuilt without its constructor; pickle then restores its attributes."""
    return cls.__new__(cls, *args)


class OFSConnectionConfigError(OFSSchedulerError, AirflowFailException):
    """The Airflow connection lacks a required field or holds a value that cannot be used (not retried)."""


class OFSAuthenticationError(OFSSchedulerError):
    """Oracle IAM refused the credentials, or ESI refused the bearer token (HTTP 401)."""


class OFSCredentialsRefusedError(OFSAuthenticationError, AirflowFailException):
    """Oracle IAM refused the password or the OAuth client: not retried, since each try could lock the account."""


class OFSApiError(OFSSchedulerError):
    """ESI answered a call with a negative ``statusCode``: the call itself did not succeed."""

    meaning: str = "Unknown status code"

    def __init__(self, message: str, *, code: int | None = None, verb: str = "") -> None:
        super().__init__(message, code=code)
        self.verb = verb


class OFSCallFailedError(OFSApiError):
    """Code -1 answered by the call itself: ESI reports the call as a failure (documented, not run-level)."""

    code = -1
    meaning = "Failure"


class OFSCallInterruptedError(OFSApiError):
    """Code -2 answered by the call itself: ESI reports the call as interrupted (documented, not run-level)."""

    code = -2
    meaning = "Interrupted"


class OFSObjectNotFoundError(OFSApiError, AirflowFailException):
    """Code -3: the batch, batch group, run id or task code does not exist (not retried)."""

    code = -3
    meaning = "Object does not exist"


class OFSInvalidArgumentsError(OFSApiError, AirflowFailException):
    """Code -4: invalid arguments or not enough parameters in the request body (not retried)."""

    code = -4
    meaning = "Invalid arguments passed in request/not enough params in Request body"


class OFSInvalidHeadersError(OFSApiError, AirflowFailException):
    """Code -5: request headers are invalid or missing: tenant, service, workspace, remote user (not retried)."""

    code = -5
    meaning = "Invalid request headers/request headers missing"


class OFSNoExecutableJobError(OFSApiError, AirflowFailException):
    """Code -6: nothing in the batch or group can be executed, e.g. every task excluded (not retried)."""

    code = -6
    meaning = "No executable job is present"


class OFSAlreadyInterruptedError(OFSApiError):
    """Code -7: the run was already interrupted (interrupt treats this as done)."""

    code = -7
    meaning = "Job is already interrupted"


class OFSNotOngoingError(OFSApiError):
    """Code -8: the run is not in a state that allows the call (not ongoing, or not aborted/failed)."""

    code = -8
    meaning = "Job is not ongoing/aborted"


class OFSUnknownCodeError(OFSApiError):
    """ESI answered with a code outside the documented table; never taken for success."""


API_ERRORS: dict[int, type[OFSApiError]] = {
    cls.code: cls  # type: ignore[misc]
    for cls in (
        OFSCallFailedError,
        OFSCallInterruptedError,
        OFSObjectNotFoundError,
        OFSInvalidArgumentsError,
        OFSInvalidHeadersError,
        OFSNoExecutableJobError,
        OFSAlreadyInterruptedError,
        OFSNotOngoingError,
    )
}


class FailureKind(Enum):
    """How an HTTP exchange went wrong; decides whether the request may have reached the server."""

    NOT_CONNECTED = "the connection could not be established"
    DROPPED = "the connection was dropped before an answer arrived"
    TIMEOUT = "no answer arrived within the timeout"
    THROTTLED = "the server answered HTTP 429 (too many requests)"
    UNAVAILABLE = "the server answered HTTP 503 (service unavailable)"
    SERVER_ERROR = "the server answered with an HTTP 5xx error"
    MALFORMED = "the answer was not the JSON the API documents"
    HTTP_ERROR = "the server answered with an HTTP error and no API status"

    @property
    def request_was_not_processed(self) -> bool:
        """Whether the server certainly did not act on the request, so even a mutating call may repeat."""
        return self in (FailureKind.NOT_CONNECTED, FailureKind.THROTTLED, FailureKind.UNAVAILABLE)

    @property
    def is_transient(self) -> bool:
        """Whether asking again later may succeed."""
        return self is not FailureKind.HTTP_ERROR


class OFSTransportError(OFSSchedulerError):
    """An HTTP exchange with ESI or IAM failed before a valid API answer arrived."""

    def __init__(
        self,
        message: str,
        *,
        kind: FailureKind,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.http_status = http_status
        self.retry_after = retry_after


class OFSOutcomeUnknownError(OFSSchedulerError, AirflowFailException):
    """A mutating call (trigger, restart, rerun, interrupt) may have been processed; it was not repeated.

    Not retried by Airflow either: a new try would send the call again and could start a second run.
    """


class OFSRunFailedError(OFSSchedulerError):
    """The watched run (or one of the watched tasks) ended failed, interrupted or aborted.

    ``reason`` ends the message when the run's state alone does not say why (a watched task that can no
    longer run); ``message``, when given, is the whole message (as the trigger's event carries it).
    """

    def __init__(
        self,
        run_id: str,
        state: RunState,
        failed_tasks: Sequence[str] = (),
        status_texts: Mapping[str, str] | None = None,
        *,
        reason: str = "",
        message: str = "",
    ) -> None:
        self.run_id = run_id
        self.state = state
        self.failed_tasks = list(failed_tasks)
        if not message:
            texts = status_texts or {}  # a failed task's (or child run's) own status text, when OFS sent one
            named = [f"{code} ({texts[code]})" if texts.get(code) else code for code in self.failed_tasks]
            failed = f"; failed: {listed(named)}" if named else ""
            message = f"OFS run {run_id} ended {state.describe()}{failed}{f': {reason}' if reason else ''}"
        super().__init__(message, code=state.value)


class OFSRunAbandonedError(OFSSchedulerError, AirflowFailException):
    """A person answered **Fail** about a failed run (``recovery=``); not retried, since a retry would act on it."""

    def __init__(self, batch_name: str, answer: Any) -> None:
        self.run_id = answer.run_id
        super().__init__(
            f"OFS run {answer.run_id} of {batch_name} failed and was not recovered: {answer.sentence()}. Clear the "
            f"task to start anew."
        )


class OFSTasksOfGroupError(OFSSchedulerError, AirflowFailException):
    """A ``tasks`` filter was given for the run of a batch group; not retried, since no retry can change that.

    The guide documents ``tasks`` for the status of a batch only, and a group's status names its child runs
    by run id, without their batch codes, so no child can be matched to a code honestly.
    """

    def __init__(self, run_id: str, tasks: Sequence[str]) -> None:
        self.run_id = run_id
        super().__init__(
            f"OFS run {run_id} is the run of a batch group (its status lists child runs, not tasks), and 'tasks' "
            f"({', '.join(tasks)}) filters the task codes of a batch run only: a group's child runs come without "
            f"their batch codes. Watch the group without 'tasks', or watch a child batch's run id with 'tasks'."
        )


class OFSRunTimeoutError(OFSSchedulerError):
    """The watched run did not finish within the allowed time; ``run_stopped`` says whether it was interrupted."""

    def __init__(
        self, run_id: str, last_state: RunState | None, waited_seconds: float, *, run_stopped: bool = False
    ) -> None:
        self.run_id = run_id
        self.last_state = last_state
        self.run_stopped = run_stopped
        last = last_state.describe() if last_state is not None else "unknown (no status read yet)"
        stopped = "; the run was interrupted" if run_stopped else ""
        super().__init__(f"OFS run {run_id} did not finish within {waited_seconds:g} s; last state {last}{stopped}")


class OFSWatchRefusedError(OFSSchedulerError, AirflowFailException):
    """The trigger stopped watching on an error no retry can fix (the connection, the credentials, an argument)."""


class OFSRunLostError(OFSSchedulerError, AirflowFailException):
    """Waiting for a run that exists failed, and an Airflow retry could not find the run again (not retried).

    Raised instead of the error that ended the wait where a retry would start a second run: on Airflow
    before 3.3, or with ``durable=False``. The message names the run and how to go on.
    """

    def __init__(self, run_id: str, batch_name: str, cause: BaseException) -> None:
        self.run_id = run_id
        super().__init__(
            f"Stopped waiting for OFS run {run_id} of {batch_name}: {cause}. The run exists and may still be going. "
            f"The task is not retried by Airflow, since a retry could not reconnect to the run (that needs Airflow "
            f"3.3+ and durable=True) and would start another. Watch run {run_id} with OFSBatchRunSensor, or clear "
            f"this task once the run has ended to start anew."
        )


class OFSTaskStateError(OFSSchedulerError, AirflowFailException):
    """What the task-state store keeps for the task cannot be used: unreadable, or another batch's or
    connection's run (not retried: an earlier try may have acted, and a retry could act twice)."""


class OFSTokenUnavailableError(OFSSchedulerError):
    """Oracle IAM could not issue a token within the retry budget (down, throttled or answering garbage)."""


def fails_at_once(error: BaseException) -> bool:
    """Whether ``error`` fails the task without an Airflow retry (it derives from ``AirflowFailException``)."""
    return isinstance(error, AirflowFailException)


def fails_plainly(method: Callable[P, R]) -> Callable[P, R]:
    """Raise an error that fails the task at once without the provider's frames below the task's method.

    Its message says what was wrong and what to do; a deep stack of HTTP and parsing frames would push
    it off the screen of Airflow's log view. The error is the same object, raised from the decorated method.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except AirflowFailException as error:  # its cause, if any, stays chained
            raise error.with_traceback(None) from error.__cause__

    return wrapper
