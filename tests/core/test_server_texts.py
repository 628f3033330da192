"""Texts a server sent (task codes, status texts, child run ids, error details) pass through one place,
``protocol.server_text``, before they reach a log, an error, an XCom, the lineage facet or a metric; the
lists a task publishes are bounded (``published.MAX_LISTED``)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_ofs.exceptions import OFSRunFailedError, OFSUnknownCodeError
from airflow_provider_ofs.protocol import MAX_SERVER_TEXT, HttpResponse, StatusPoll, decode_answer, server_text
from airflow_provider_ofs.published import (
    MAX_LISTED,
    XCOM_CHILD_RUNS_KEY,
    XCOM_FAILED_TASKS_KEY,
    XCOM_LISTS_OMITTED_KEY,
    RunOutcome,
    push_outcome,
)
from airflow_provider_ofs.states import RunState, RunStatus, TaskStatus
from tests.core.factory import PASSWORD, make_settings
from tests.operators.task_context import TaskInstance

RUN_ID = "EOD_2026-01-31_1"
ECHOED_TOKEN = "opaque-access-token-Zq81"


def status_answer(**envelope: Any) -> HttpResponse:
    body = {"statusCode": "0", "batchRunId": RUN_ID, "batchStatusCode": "-1", **envelope}
    return HttpResponse(200, json.dumps(body).encode(), "application/json")


def read(answer: HttpResponse, **settings: Any) -> RunStatus:
    return StatusPoll(make_settings(**settings), RUN_ID).read(answer, "status")


def failed_task(code: str, text: str = "FAILED") -> dict[str, str]:
    return {"taskCode": code, "statusCode": "-1", "taskStatus": text}


def test_an_echoed_bearer_token_does_not_reach_the_failed_tasks():
    status = read(status_answer(taskStatusList=[failed_task(f"Bearer {ECHOED_TOKEN}")]))

    assert ECHOED_TOKEN not in json.dumps(status.failed_tasks)
    assert status.failed_tasks == ["Bearer ***"]


def test_the_connections_secrets_do_not_reach_status_texts_or_child_run_ids():
    answer = status_answer(
        taskStatusList=[failed_task("T1", f"failed for password {PASSWORD}")],
        batchList=[{"batchRunId": f"CHILD_{PASSWORD}", "batchStatusCode": "-1", "batchStatus": "x"}],
    )

    status = read(answer)

    assert PASSWORD not in repr(status)
    assert status.tasks[0].status_text == "failed for password ***"


@pytest.mark.parametrize("forged", ["T1\nINFO - OFS run ended SUCCESSFUL", "T1\r\x1b[2K", "T1\ud800", "T1\u2028x"])
def test_line_breaks_control_characters_and_lone_surrogates_are_removed(forged):
    answer = status_answer(taskStatusList=[failed_task(forged, forged)], batchStatus=forged)

    status = read(answer)

    for text in (status.tasks[0].task_code, status.tasks[0].status_text, status.state_text):
        assert text.isprintable()
        text.encode("utf-8")  # no lone surrogate left to break a log line


def test_a_long_text_is_cut_and_says_how_much_was_cut():
    status = read(status_answer(taskStatusList=[failed_task("T" * 10_000, "x" * 5_000)]))

    assert status.tasks[0].task_code == "T" * MAX_SERVER_TEXT + f"...(+{10_000 - MAX_SERVER_TEXT} characters)"
    assert len(status.tasks[0].status_text) < MAX_SERVER_TEXT + 30


def test_an_undocumented_code_quoted_in_an_error_is_cut_and_cleaned():
    answer = HttpResponse(200, json.dumps({"statusCode": "x\n" * 100_000}).encode(), "application/json")

    with pytest.raises(OFSUnknownCodeError) as raised:
        decode_answer(answer, "status")

    assert len(str(raised.value)) < 500
    assert "\n" not in str(raised.value)


def test_an_error_detail_is_cut_too():
    answer = HttpResponse(200, json.dumps({"statusCode": "-4", "summary": "s" * 100_000}).encode(), "application/json")

    with pytest.raises(Exception, match="code -4") as raised:
        decode_answer(answer, "trigger")

    assert len(str(raised.value)) < 1000


def test_server_text_of_a_plain_short_text_is_that_text():
    assert server_text("CALC_RWA") == "CALC_RWA"
    assert server_text(42) == "42"


# ------------------------------------------------------------------------------------------ bounded lists


def failed_status(failed: int, children: int = 0) -> RunStatus:
    return RunStatus(
        RUN_ID,
        RunState.FAILED,
        tasks=[TaskStatus(f"T{number}", RunState.FAILED) for number in range(failed)],
        children=[RunStatus(f"C{number}", RunState.FAILED) for number in range(children)],
    )


def test_a_run_outcome_keeps_at_most_the_documented_number_of_each_list_and_counts_the_rest():
    status = failed_status(MAX_LISTED + 150, children=MAX_LISTED + 7)

    outcome = RunOutcome.of(status, RunState.FAILED, status.failed_tasks)

    assert len(outcome.failed_tasks) == MAX_LISTED
    assert outcome.failed_tasks[:2] == ("T0", "T1")
    assert outcome.failed_tasks_omitted == 150 + MAX_LISTED + 7  # the failed child runs are failed "tasks" of a group
    assert len(outcome.children) == MAX_LISTED
    assert outcome.children_omitted == 7


def test_push_outcome_publishes_the_bounded_lists_and_how_many_were_cut():
    status = failed_status(MAX_LISTED + 3)
    ti = TaskInstance(try_number=1, max_tries=0)
    task = SimpleNamespace(do_xcom_push=True, run_outcome=None)

    push_outcome(task, {"ti": ti}, RunOutcome.of(status, RunState.FAILED, status.failed_tasks))

    assert len(ti.xcoms[XCOM_FAILED_TASKS_KEY]) == MAX_LISTED
    assert ti.xcoms[XCOM_CHILD_RUNS_KEY] == []
    assert ti.xcoms[XCOM_LISTS_OMITTED_KEY] == {"failed_tasks": 3, "child_runs": 0}


def test_a_short_outcome_publishes_no_cut_counts():
    ti = TaskInstance(try_number=1, max_tries=0)

    push_outcome(SimpleNamespace(do_xcom_push=True), {"ti": ti}, RunOutcome.of(failed_status(2), RunState.FAILED))

    assert XCOM_LISTS_OMITTED_KEY not in ti.xcoms


def test_the_failure_message_names_at_most_the_documented_number_of_tasks():
    error = OFSRunFailedError(RUN_ID, RunState.FAILED, [f"TASK_{n}" for n in range(10_000)])

    assert f"TASK_{MAX_LISTED - 1} and {10_000 - MAX_LISTED} more" in str(error)
    assert f"TASK_{MAX_LISTED}," not in str(error)
    assert len(str(error)) < 20 * MAX_LISTED + 200
