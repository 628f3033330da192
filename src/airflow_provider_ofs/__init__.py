"""Apache Airflow provider for the Oracle Financial Services (OFS) External Scheduler Interface.

The names exported here are cheap to import (no HTTP client, no operator): run states, the status
type and the error classes. Hooks, operators, sensors and triggers live in their own subpackages.
"""

from __future__ import annotations

from airflow_provider_ofs.exceptions import (
    OFSAlreadyInterruptedError,
    OFSApiError,
    OFSAuthenticationError,
    OFSConnectionConfigError,
    OFSInvalidArgumentsError,
    OFSInvalidHeadersError,
    OFSNoExecutableJobError,
    OFSNotOngoingError,
    OFSObjectNotFoundError,
    OFSOutcomeUnknownError,
    OFSRunFailedError,
    OFSRunTimeoutError,
    OFSSchedulerError,
    OFSTokenUnavailableError,
    OFSTransportError,
    OFSUnknownCodeError,
)
from airflow_provider_ofs.states import RunState, RunStatus, TaskStatus

__version__ = "0.1.0"

__all__ = [
    "OFSAlreadyInterruptedError",
    "OFSApiError",
    "OFSAuthenticationError",
    "OFSConnectionConfigError",
    "OFSInvalidArgumentsError",
    "OFSInvalidHeadersError",
    "OFSNoExecutableJobError",
    "OFSNotOngoingError",
    "OFSObjectNotFoundError",
    "OFSOutcomeUnknownError",
    "OFSRunFailedError",
    "OFSRunTimeoutError",
    "OFSSchedulerError",
    "OFSTokenUnavailableError",
    "OFSTransportError",
    "OFSUnknownCodeError",
    "RunState",
    "RunStatus",
    "TaskStatus",
    "__version__",
]
