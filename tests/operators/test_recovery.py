"""``recovery=`` without a scheduler: its arguments, the question's text, the answer read from Airflow's event, and
its refusal on Airflow before 3.3 where the DAG is parsed.

What each answer does to OFS, under a real scheduler:
tests/reliability/test_recovery_under_a_scheduler.py.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.asset_events import AssetAlias, asset_of, ofs_batch_uri, without_batch_assets
from airflow_provider_ofs.operators.batch import OFSRerunBatchOperator, OFSRestartBatchOperator, OFSTriggerBatchOperator
from airflow_provider_ofs.recovery import (
    FAIL,
    MARK_DONE,
    MAX_BODY_CHARS,
    OPTIONS,
    RESTART,
    Answer,
    OFSRecovery,
    last_answer,
    question,
    unsupported_reason,
)

SUPPORTED = airflow_version() >= (3, 3)
AT = datetime(2026, 12, 7, 2, 14, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"default": "Retry"}, "default must be one of Restart, Rerun, Mark done, Fail, not 'Retry'"),
        ({"max_asks": 0}, "max_asks must be a whole number of 1 or more, not 0"),
        ({"max_asks": True}, "max_asks must be a whole number of 1 or more, not True"),
        ({"response_timeout": 600}, "response_timeout must be a timedelta or None, not 600"),
    ],
)
def test_a_bad_recovery_argument_is_refused_naming_it(arguments: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        OFSRecovery(**arguments)  # type: ignore[arg-type]


def test_the_defaults_are_fail_after_no_timeout_with_one_question() -> None:
    recovery = OFSRecovery()
    assert (recovery.default, recovery.response_timeout, recovery.max_asks, recovery.users) == (FAIL, None, 1, None)
    assert OFSRecovery(assigned_users={"id": "7", "name": "ops"}).users == [{"id": "7", "name": "ops"}]


def test_the_question_names_the_batch_mis_date_run_failure_and_monitor_link() -> None:
    subject, body = question(
        "EOD_LOAD",
        "EOD_LOAD_20261206_1_1",
        "2026-12-06",
        "OFS run X ended FAILED; failed: T2 (ORA-01555)",
        "https://ofs.example.com/monitor?run=X",
        1,
        2,
    )
    assert subject == "OFS batch EOD_LOAD for MIS date 2026-12-06 failed"
    assert "OFS run X ended FAILED; failed: T2 (ORA-01555)" in body
    assert "`EOD_LOAD_20261206_1_1`" in body
    assert "https://ofs.example.com/monitor?run=X" in body
    assert "Question 1 of at most 2" in body
    assert all(f"**{option}**" in body for option in OPTIONS)
    subject, body = question("EOD_LOAD", "R1", None, "x" * (MAX_BODY_CHARS + 500), None, 1, 1)
    assert subject == "OFS batch EOD_LOAD failed"
    assert "x" * (MAX_BODY_CHARS + 1) not in body
    assert "cut; the task's log has the whole message" in body
    assert "the connection has no monitor_url" in body


def test_an_answer_says_who_chose_what_and_when() -> None:
    event = {"chosen_options": [RESTART], "responded_by_user": {"id": "1", "name": "nightshift"}, "responded_at": AT}
    answer = Answer.from_event("R1", event)
    assert answer.record() == {"batchRunId": "R1", "choice": RESTART, "by": "nightshift", "at": AT.isoformat()}
    assert answer.sentence() == f"Restart chosen by nightshift at {AT.isoformat()} for OFS run R1"
    assert last_answer([{"batchRunId": "R0", "choice": FAIL, "by": "a", "at": "t"}, answer.record()]) == (
        answer.sentence()
    )
    assert last_answer([]) is None


def test_the_timeouts_default_is_chosen_by_nobody() -> None:
    event = {"chosen_options": [MARK_DONE], "responded_by_user": None, "responded_at": AT, "timedout": True}
    answer = Answer.from_event("R1", event)
    assert answer.by is None
    assert "Mark done chosen by nobody (the response timeout's default)" in answer.sentence()


@pytest.mark.parametrize(
    ("event", "named"),
    [
        (
            {"error": "The Human-in-the-loop response timeout has passed", "error_type": "timeout"},
            "No answer about OFS run R1: The Human",
        ),
        ({"chosen_options": ["Retry"]}, r"chose \['Retry'\]; expected one of"),
        ({"chosen_options": [RESTART, FAIL]}, r"chose \['Restart', 'Fail'\]"),
        ({"chosen_options": []}, r"chose \[\]"),
    ],
)
def test_an_unusable_answer_is_refused_naming_the_run(event: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Answer.from_event("R1", event)


def test_mark_done_drops_only_the_ofs_batch_assets_from_the_outlets() -> None:
    batch = asset_of(ofs_batch_uri("ofs_scheduler_default", "EOD"))
    alias = AssetAlias(name="ofs_batch_runs")
    mine = asset_of("s3://bucket/report")
    assert without_batch_assets([batch, alias, mine]) == [alias, mine]


@pytest.mark.parametrize("operator", [OFSTriggerBatchOperator, OFSRestartBatchOperator, OFSRerunBatchOperator])
def test_recovery_is_taken_from_airflow_3_3_and_refused_where_the_dag_is_parsed_before(operator: type) -> None:
    arguments = {"task_id": "t", "batch_name": "EOD", "recovery": OFSRecovery()}
    if operator is not OFSTriggerBatchOperator:
        arguments["batch_run_id"] = "EOD_20261206_1_1"
    if SUPPORTED:
        assert operator(**arguments).recovery == OFSRecovery()
        return
    major, minor = airflow_version()
    with pytest.raises(
        ValueError, match=rf"needs Airflow 3\.3 or later \(this is Airflow {major}\.{minor}\).*standard"
    ):
        operator(**arguments)


def test_the_refusal_names_the_versions_and_what_to_use_instead() -> None:
    reason = unsupported_reason((3, 0))
    assert reason is not None
    assert "needs Airflow 3.3 or later (this is Airflow 3.0)" in reason
    assert "no standard provider" in reason
    assert "max_restarts" in reason
    assert unsupported_reason((3, 3)) is None


@pytest.mark.skipif(not SUPPORTED, reason="refused before Airflow 3.3 (test above)")
def test_recovery_needs_a_task_that_waits_for_its_run() -> None:
    with pytest.raises(ValueError, match="needs wait_for_completion=True"):
        OFSTriggerBatchOperator(task_id="t", batch_name="EOD", recovery=OFSRecovery(), wait_for_completion=False)
    with pytest.raises(ValueError, match="must be an OFSRecovery or None"):
        OFSTriggerBatchOperator(task_id="t", batch_name="EOD", recovery={"default": "Fail"})  # type: ignore[arg-type]
