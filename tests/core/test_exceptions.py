"""The provider's errors survive a pickle round trip, as they must when Airflow or a listener sends them to
another process (Airflow 3.0's OpenLineage listener hands the task's error to a process pool)."""

from __future__ import annotations

import inspect
import pickle

import pytest

from airflow_provider_ofs import exceptions
from airflow_provider_ofs.exceptions import FailureKind, OFSSchedulerError
from airflow_provider_ofs.recovery import FAIL, Answer
from airflow_provider_ofs.states import RunState

#: Constructor arguments of the errors whose constructors do not take a message.
ARGUMENTS = {
    exceptions.OFSRunFailedError: (("BATCH_2026-01-31_1_1", RunState.FAILED, ["T1"], {"T1": "ORA-00942"}), {}),
    exceptions.OFSTasksOfGroupError: (("GROUP_2026-01-31_1_1", ["T1"]), {}),
    exceptions.OFSRunTimeoutError: (("BATCH_2026-01-31_1_1", RunState.ONGOING, 60.0), {"run_stopped": True}),
    exceptions.OFSRunLostError: (("BATCH_2026-01-31_1_1", "BATCH", TimeoutError("no answer")), {}),
    exceptions.OFSRunAbandonedError: (("BATCH", Answer("BATCH_2026-01-31_1_1", FAIL, "nightshift", "02:14")), {}),
    exceptions.OFSTransportError: (
        ("no answer",),
        {"kind": FailureKind.THROTTLED, "http_status": 429, "retry_after": 2.5},
    ),
    exceptions.OFSApiError: (("refused",), {"verb": "trigger"}),
}
ERRORS = [
    cls
    for _, cls in inspect.getmembers(exceptions, inspect.isclass)
    if issubclass(cls, OFSSchedulerError) and cls.__module__ == exceptions.__name__
]


def example(cls: type[OFSSchedulerError]) -> OFSSchedulerError:
    for base in cls.__mro__:
        if base in ARGUMENTS:
            args, kwargs = ARGUMENTS[base]
            return cls(*args, **kwargs)
    return cls("the message")


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__name__)
def test_every_error_survives_a_pickle_round_trip_with_its_message_and_fields(cls):
    error = example(cls)

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is cls
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)
    assert copy.code == error.code
