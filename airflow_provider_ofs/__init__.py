"""Apache Airflow provider for the Oracle Financial Services (OFS) External Scheduler Interface.

The names exported here are cheap to import (no HTTP client, no operator): run states, the status
type and the error classes, each module loaded on first use (the errors derive from Airflow's exception,
and importing the package, as the simulator's pytest plugin does in every pytest run, loads nothing).
Hooks, operators, sensors and triggers live in their own subpackages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_ofs.exceptions import (
        OFSAlreadyInterruptedError,
        OFSApiError,
        OFSAuthenticationError,
        OFSCallFailedError,
        OFSCallInterruptedError,
        OFSConnectionConfigError,
        OFSCredentialsRefusedError,
        OFSInvalidArgumentsError,
        OFSInvalidHeadersError,
        OFSNoExecutableJobError,
        OFSNotOngoingError,
        OFSObjectNotFoundError,
        OFSOutcomeUnknownError,
        OFSRunFailedError,
        OFSRunLostError,
        OFSRunTimeoutError,
        OFSSchedulerError,
        OFSTasksOfGroupError,
        OFSTaskStateError,
        OFSTokenUnavailableError,
        OFSTransportError,
        OFSUnknownCodeError,
        OFSWatchRefusedError,
    )
    from airflow_provider_ofs.states import RunState, RunStatus, TaskStatus


def __getattr__(name: str) -> Any:
    if name in _LAZY_ERRORS:
        from airflow_provider_ofs import exceptions

        return getattr(exceptions, name)
    if name in _LAZY_STATES:
        from airflow_provider_ofs import states

        return getattr(states, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = "0.2.0.dev0"

__all__ = [
    "OFSAlreadyInterruptedError",
    "OFSApiError",
    "OFSAuthenticationError",
    "OFSCallFailedError",
    "OFSCallInterruptedError",
    "OFSConnectionConfigError",
    "OFSCredentialsRefusedError",
    "OFSInvalidArgumentsError",
    "OFSInvalidHeadersError",
    "OFSNoExecutableJobError",
    "OFSNotOngoingError",
    "OFSObjectNotFoundError",
    "OFSOutcomeUnknownError",
    "OFSRunFailedError",
    "OFSRunLostError",
    "OFSRunTimeoutError",
    "OFSSchedulerError",
    "OFSTaskStateError",
    "OFSTasksOfGroupError",
    "OFSTokenUnavailableError",
    "OFSTransportError",
    "OFSUnknownCodeError",
    "OFSWatchRefusedError",
    "RunState",
    "RunStatus",
    "TaskStatus",
    "__version__",
]

# The errors derive from Airflow's exception, so they load Airflow: import them on first use only, so that
# the simulator (a subpackage) and the run states stay importable without Airflow.
_LAZY_ERRORS = frozenset(name for name in __all__ if name.startswith("OFS"))
# The states are plain dataclasses and enums, yet about 2 ms to import: loaded on first use too.
_LAZY_STATES = frozenset({"RunState", "RunStatus", "TaskStatus"})
