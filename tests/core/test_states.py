"""Run states: documented codes, which are final, which fail the task, and what a status reports."""

from __future__ import annotations

import pytest

from airflow_provider_ofs import RunState, RunStatus, TaskStatus

DOCUMENTED = {
    "SUCCESSFUL": 0,
    "FAILED": -1,
    "INTERRUPTED": -2,
    "NOT_STARTED": 1,
    "ONGOING": 2,
    "ABORTED": 3,
    "EXCLUDED": 4,
    "HELD": 5,
}


def test_states_are_exactly_the_documented_codes():
    assert {state.name: state.value for state in RunState} == DOCUMENTED


@pytest.mark.parametrize(
    ("state", "terminal", "failure"),
    [
        (RunState.SUCCESSFUL, True, False),
        (RunState.FAILED, True, True),
        (RunState.INTERRUPTED, True, True),
        (RunState.ABORTED, True, True),
        (RunState.EXCLUDED, True, False),
        (RunState.NOT_STARTED, False, False),
        (RunState.ONGOING, False, False),
        (RunState.HELD, False, False),
    ],
)
def test_which_states_are_final_and_which_fail_the_task(state, terminal, failure):
    assert state.is_terminal is terminal
    assert state.is_failure is failure


def test_describe_gives_name_code_and_documented_meaning():
    assert RunState.ABORTED.describe() == "ABORTED (code 3: Aborted)"
    assert RunState.NOT_STARTED.describe() == "NOT_STARTED (code 1: Not Started)"


def test_failed_tasks_lists_failed_interrupted_and_aborted_tasks_only():
    status = RunStatus(
        run_id="R",
        state=RunState.FAILED,
        tasks=[
            TaskStatus("OK", RunState.SUCCESSFUL),
            TaskStatus("BAD", RunState.FAILED),
            TaskStatus("STOPPED", RunState.INTERRUPTED),
            TaskStatus("ABORTED", RunState.ABORTED),
            TaskStatus("SKIPPED", RunState.EXCLUDED),
            TaskStatus("WAITING", RunState.HELD),
            TaskStatus("LATER", RunState.NOT_STARTED),
        ],
    )

    assert status.failed_tasks == ["BAD", "STOPPED", "ABORTED"]
    assert status.held_tasks == ["WAITING"]


def test_failed_and_held_children_of_a_group_are_named_by_run_id():
    status = RunStatus(
        run_id="G",
        state=RunState.ONGOING,
        children=[
            RunStatus("C1", RunState.SUCCESSFUL),
            RunStatus("C2", RunState.ABORTED),
            RunStatus("C3", RunState.HELD),
            RunStatus("C4", RunState.EXCLUDED),
        ],
    )

    assert status.failed_tasks == ["C2"]
    assert status.held_tasks == ["C3"]
