"""Status codes and state texts of the ESI API, as the simulator sends them.

Two layers share one table (ESI-NOTES 2): ``RunCode`` is the state of a run, a task or a
child batch; ``ApiCode`` is the outcome of the API call itself. On the wire every code is a
string (ESI-NOTES 1); ``wire()`` does that conversion in one place.
"""

from __future__ import annotations

from enum import IntEnum


class RunCode(IntEnum):
    """State of a run, a task or a child batch of a group."""

    SUCCESSFUL = 0
    FAILED = -1
    INTERRUPTED = -2
    NOT_STARTED = 1
    ONGOING = 2
    ABORTED = 3
    EXCLUDED = 4
    HELD = 5

    @property
    def text(self) -> str:
        """The state text of the OFS batch monitor (ESI-NOTES 11)."""
        return _TEXTS[self]

    @property
    def is_finished(self) -> bool:
        """True for the states after which nothing runs any more without a restart or rerun."""
        return self in _FINISHED

    @property
    def is_failure(self) -> bool:
        """True for failed, interrupted and aborted."""
        return self in (RunCode.FAILED, RunCode.INTERRUPTED, RunCode.ABORTED)


_TEXTS = {
    RunCode.SUCCESSFUL: "SUCCESSFUL",
    RunCode.FAILED: "FAILED",
    RunCode.INTERRUPTED: "INTERRUPTED",
    RunCode.NOT_STARTED: "NOT-STARTED",
    RunCode.ONGOING: "ON-GOING",
    RunCode.ABORTED: "ABORTED",
    RunCode.EXCLUDED: "EXCLUDED",
    RunCode.HELD: "HELD",
}
_FINISHED = frozenset({RunCode.SUCCESSFUL, RunCode.FAILED, RunCode.INTERRUPTED, RunCode.ABORTED, RunCode.EXCLUDED})


class ApiCode(IntEnum):
    """Outcome of an API call (top-level ``statusCode``)."""

    SUCCESS = 0
    FAILURE = -1  # the call itself failed (ESI-NOTES 14); served by the "api_failure" fault only
    NOT_FOUND = -3
    INVALID_ARGUMENTS = -4
    INVALID_HEADERS = -5
    NO_EXECUTABLE_JOB = -6
    ALREADY_INTERRUPTED = -7
    NOT_ONGOING = -8


API_MEANINGS = {
    ApiCode.SUCCESS: "Success",
    ApiCode.FAILURE: "Failure",
    ApiCode.NOT_FOUND: "Object does not exist",
    ApiCode.INVALID_ARGUMENTS: "Invalid arguments passed in request/not enough params in Request body",
    ApiCode.INVALID_HEADERS: "Invalid request headers/request headers missing",
    ApiCode.NO_EXECUTABLE_JOB: "No executable job is present",
    ApiCode.ALREADY_INTERRUPTED: "Job is already interrupted",
    ApiCode.NOT_ONGOING: "Job is not ongoing/aborted",
}

# HTTP status of each error answer. They differ on purpose, so that a client must decide from the
# body's statusCode and not from the HTTP status (ESI-NOTES 3).
API_HTTP_STATUS = {
    ApiCode.SUCCESS: 200,
    ApiCode.FAILURE: 200,
    ApiCode.NOT_FOUND: 404,
    ApiCode.INVALID_ARGUMENTS: 400,
    ApiCode.INVALID_HEADERS: 400,
    ApiCode.NO_EXECUTABLE_JOB: 200,
    ApiCode.ALREADY_INTERRUPTED: 200,
    ApiCode.NOT_ONGOING: 200,
}


def wire(code: int) -> str:
    """A code as it travels on the wire: a string such as ``"-1"`` (ESI-NOTES 1)."""
    return str(int(code))


class EsiError(Exception):
    """An API-level refusal: answered with the ESI envelope and a negative ``statusCode``."""

    def __init__(self, code: ApiCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
