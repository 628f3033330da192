"""The pure waiting rules of ``airflow_provider_ofs.watching`` (no server, no Airflow run)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_ofs.arguments import required_seconds
from airflow_provider_ofs.exceptions import OFSRunFailedError, OFSRunTimeoutError, OFSSchedulerError
from airflow_provider_ofs.states import RunState, RunStatus, TaskStatus
from airflow_provider_ofs.watching import (
    EventStatus,
    RunProgress,
    Verdict,
    WatchEvent,
    assess,
    wait_deadline,
)


def batch(state: RunState, **tasks: RunState) -> RunStatus:
    return RunStatus("R1", state, [TaskStatus(code, task_state) for code, task_state in tasks.items()])


@pytest.mark.parametrize(
    ("state", "verdict"),
    [
        (RunState.SUCCESSFUL, Verdict.SUCCESS),
        (RunState.EXCLUDED, Verdict.SUCCESS),
        (RunState.FAILED, Verdict.FAILURE),
        (RunState.INTERRUPTED, Verdict.FAILURE),
        (RunState.ABORTED, Verdict.FAILURE),
        (RunState.NOT_STARTED, Verdict.WAIT),
        (RunState.ONGOING, Verdict.WAIT),
        (RunState.HELD, Verdict.WAIT),
    ],
)
def test_every_documented_run_state_maps_to_one_verdict(state, verdict):
    assert assess(batch(state)).verdict is verdict


def test_failure_names_failed_tasks_and_failed_child_runs():
    group = RunStatus(
        "G1", RunState.FAILED, children=[RunStatus("C1", RunState.SUCCESSFUL), RunStatus("C2", RunState.ABORTED)]
    )

    assessment = assess(group)

    assert (assessment.verdict, assessment.failed_tasks) == (Verdict.FAILURE, ["C2"])


def test_task_filter_ignores_failures_of_other_tasks():
    status = batch(RunState.FAILED, A=RunState.SUCCESSFUL, B=RunState.FAILED)

    assert assess(status, ["A"]).verdict is Verdict.SUCCESS
    assert assess(status, ["B"]).failed_tasks == ["B"]


def test_task_filter_waits_while_a_watched_task_is_held_in_a_running_run():
    status = batch(RunState.ONGOING, A=RunState.SUCCESSFUL, B=RunState.HELD)

    assert assess(status, ["A", "B"]).verdict is Verdict.WAIT


def test_task_filter_fails_when_a_watched_task_is_missing_from_an_ended_run():
    assessment = assess(batch(RunState.SUCCESSFUL, A=RunState.SUCCESSFUL), ["A", "NOPE"])

    assert assessment.verdict is Verdict.FAILURE
    assert "NOPE are not in the run" in assessment.reason


def test_progress_logs_a_state_change_once_and_nothing_when_nothing_changed():
    progress = RunProgress("R1")

    first = progress.update(batch(RunState.ONGOING, A=RunState.ONGOING, B=RunState.NOT_STARTED))
    again = progress.update(batch(RunState.ONGOING, A=RunState.ONGOING, B=RunState.NOT_STARTED))
    later = progress.update(batch(RunState.ONGOING, A=RunState.SUCCESSFUL, B=RunState.ONGOING))
    ended = progress.update(batch(RunState.FAILED, A=RunState.SUCCESSFUL, B=RunState.ONGOING))

    assert first == ["OFS run R1: ONGOING (code 2: Ongoing); A ONGOING, B NOT_STARTED"]
    assert again == []
    assert later == ["OFS run R1: A SUCCESSFUL, B ONGOING"]
    assert ended == ["OFS run R1: FAILED (code -1: Failure)"]


def test_progress_says_when_the_next_status_call_is_while_the_run_goes_on():
    progress = RunProgress("R1", poll_interval=60)

    going = progress.update(batch(RunState.ONGOING, A=RunState.ONGOING))
    ended = progress.update(batch(RunState.SUCCESSFUL, A=RunState.SUCCESSFUL))

    assert going == ["OFS run R1: ONGOING (code 2: Ongoing); A ONGOING; next status call in 60 s"]
    assert ended == ["OFS run R1: SUCCESSFUL (code 0: Success); A SUCCESSFUL"]


def test_progress_says_once_which_tasks_are_held():
    progress = RunProgress("R1")

    first = progress.update(batch(RunState.HELD, A=RunState.SUCCESSFUL, B=RunState.HELD))
    again = progress.update(batch(RunState.HELD, A=RunState.SUCCESSFUL, B=RunState.HELD))

    assert any("held (code 5) B" in line for line in first)
    assert again == []


def test_deadline_is_the_earlier_of_timeout_and_execution_timeout_from_the_try_start():
    assert wait_deadline(1000.0, None) is None
    assert wait_deadline(1000.0, 60.0) == 1060.0
    assert wait_deadline(1000.0, 600.0, timedelta(seconds=100), started_at=950.0) == 1050.0
    assert wait_deadline(1000.0, 10.0, timedelta(seconds=100), started_at=950.0) == 1010.0


@pytest.mark.parametrize("value", [-1, "30", True])
def test_bad_durations_are_rejected_naming_the_argument(value):
    with pytest.raises(ValueError, match="poll_interval"):
        required_seconds("poll_interval", value)


def test_event_payload_round_trips():
    event = WatchEvent(EventStatus.FAILED, "R1", "boom", RunState.ABORTED, ["T1"], [], "B", 12.5, 3.0)

    assert WatchEvent.from_payload(event.payload()) == event


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        (None, "without an event"),
        ({"status": "done", "run_id": "R1"}, "expected one of success, failed, timeout, error"),
        ({"status": "success"}, "without a run id"),
        ({"status": "failed", "run_id": "R1", "state": "MELTED"}, "unknown run state 'MELTED'"),
    ],
)
def test_missing_or_unknown_events_are_rejected(payload, complaint):
    with pytest.raises(OFSSchedulerError, match=complaint):
        WatchEvent.from_payload(payload)


def test_each_event_status_maps_to_its_error():
    def error(status: EventStatus, state: RunState | None = RunState.FAILED):
        return WatchEvent(status, "R1", "", state, ["T1"], waited_seconds=5.0).error()

    assert error(EventStatus.SUCCESS, RunState.SUCCESSFUL) is None
    failed = error(EventStatus.FAILED)
    assert isinstance(failed, OFSRunFailedError)
    assert failed.failed_tasks == ["T1"]
    timed_out = error(EventStatus.TIMEOUT, RunState.HELD)
    assert isinstance(timed_out, OFSRunTimeoutError)
    assert timed_out.last_state is RunState.HELD
    assert type(error(EventStatus.ERROR)) is OFSSchedulerError
