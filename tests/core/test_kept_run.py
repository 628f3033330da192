"""What an action operator keeps in the task-state store, read back: a run with its batch, connection and
round, an intent marker, or a value that is none of these (an earlier version's bare run id among them)."""

from __future__ import annotations

import pytest

from airflow_provider_ofs.kept_run import (
    ACTING_MARKER,
    CallOut,
    KeptRun,
    Round,
    Unreadable,
    intent_marker,
    read_kept,
    run_id_of,
)


@pytest.mark.parametrize("round_", [Round(0, 3), Round(2, 5), None])
def test_a_kept_run_reads_back_as_written(round_):
    kept = KeptRun("RUN_1", "DAILY", "ofs_prod", round_)

    assert read_kept(kept.value()) == kept
    assert run_id_of(kept.value()) == "RUN_1"


@pytest.mark.parametrize("stored", [[1], [1, 2, 3], ["a", 1], [-1, 3], [True, 3], "0/3", None])
def test_a_kept_run_whose_round_is_not_two_counts_is_unreadable(stored):
    value = {**KeptRun("RUN_1", "DAILY", "ofs_prod").value(), "round": stored}

    unreadable = read_kept(value)

    assert isinstance(unreadable, Unreadable)
    assert "round is not two whole numbers" in unreadable.reason


def test_the_round_is_what_airflow_stored_for_the_try_and_its_dag_run():
    class Ti:
        max_tries = 3

    class DagRun:
        clear_number = 1

    assert Round.of(Ti(), DagRun()) == Round(1, 3)
    assert Round.of(Ti(), None) is None  # a context without the DAG run: the try numbers decide
    assert Round.of(None, DagRun()) is None


def test_a_kept_run_is_the_tasks_own_only_with_the_same_batch_and_connection():
    kept = KeptRun("RUN_1", "DAILY", "ofs_prod")

    assert kept.foreign_to("DAILY", "ofs_prod") is None
    assert kept.foreign_to("WEEKLY", "ofs_prod") == "batch 'DAILY', not 'WEEKLY'"
    assert kept.foreign_to("DAILY", "ofs_test") == "connection 'ofs_prod', not 'ofs_test'"


def test_a_bare_run_id_from_an_earlier_version_is_not_taken_for_the_tasks_run():
    unreadable = read_kept(" RUN_1 ")

    assert isinstance(unreadable, Unreadable)
    assert "a bare run id, the form version 0.1 kept" in unreadable.reason


@pytest.mark.parametrize("round_", [Round(0, 2), None])
def test_an_intent_marker_reads_back_with_its_time_and_round(round_):
    assert read_kept(intent_marker(1790000000.25, round_)) == CallOut(1790000000.25, round_)


@pytest.mark.parametrize("time_text", ["garbage", "", "nan", "inf", "-5", "1e300"])
def test_an_intent_marker_whose_time_cannot_be_read_is_still_a_call_that_was_out(time_text):
    assert read_kept(f"{ACTING_MARKER}{time_text}") == CallOut(None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("  ", "it is blank"),
        ("RUN\nFORGED", "line break"),
        ("RUN_\ud800", "lone surrogate"),
        ("R" * 257, "257 characters long"),
        (17, "it is int"),
        (["RUN_1"], "it is list"),
        ({"run_id": "RUN_1"}, "without the text fields"),
        ({"run_id": 17, "batch_name": "B", "conn_id": "c"}, "its run_id is not a run id (it is int"),
    ],
)
def test_a_value_that_is_neither_a_run_nor_a_marker_is_unreadable_and_says_why(value, reason):
    unreadable = read_kept(value)

    assert isinstance(unreadable, Unreadable)
    assert reason in unreadable.reason
