"""Metric names: what ``airflow_provider_ofs.metrics`` sends through Airflow's ``Stats``, and that Airflow takes it."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from airflow_provider_ofs import metrics

try:  # Airflow 3
    from airflow.sdk._shared.observability.metrics.validators import (
        stat_name_default_handler,
        stat_name_otel_handler,
    )
except ImportError:  # Airflow 2.11
    from airflow.metrics.validators import stat_name_default_handler, stat_name_otel_handler


class RecordingStats:
    """Stands in for Airflow's ``Stats``: keeps the name of every metric sent."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def incr(self, name: str, *args: Any) -> None:
        self.names.append(name)

    def timing(self, name: str, *args: Any) -> None:
        self.names.append(name)


@pytest.fixture
def sent(monkeypatch) -> RecordingStats:
    stats = RecordingStats()
    monkeypatch.setattr(metrics, "_stats", stats)
    return stats


@pytest.mark.parametrize("length", [1, 32, 33, 100, 300, 10_000])
def test_a_batch_name_of_any_length_makes_names_airflow_accepts(sent, length):
    metrics.run_ended("B" * length, "INTERRUPTED", 1.0)

    assert len(sent.names) == 2
    for name in sent.names:
        assert stat_name_default_handler(f"airflow.{name}") == f"airflow.{name}"  # StatsD, Datadog
        assert stat_name_otel_handler("airflow", name)  # OpenTelemetry
        assert len(name.split(".")[2]) <= metrics.MAX_BATCH_IN_NAME


@pytest.mark.parametrize("batch_name", ["OFS_EOD-1", "OFS_REG_CAPITAL_CALC_QUARTERLY", "a_b", "B" * 32])
def test_a_batch_name_fit_for_a_metric_name_is_the_batch_part_as_it_is(sent, batch_name):
    metrics.run_ended(batch_name, "SUCCESSFUL", 1.0)

    assert sent.names == [f"ofs.run.{batch_name}.successful", f"ofs.run.{batch_name}.duration"]


@pytest.mark.parametrize(
    ("batch_name", "kept"),
    [("EOD run/2026.12", "EOD_run_2026_12_"), ("Zählung", "Z_hlung_"), ("a.b", "a_b_"), ("...", ""), ("日本", "")],
)
def test_a_name_that_had_to_change_keeps_what_it_can_and_a_digest_of_itself(sent, batch_name, kept):
    metrics.run_ended(batch_name, "SUCCESSFUL", 1.0)

    digest = hashlib.sha256(batch_name.encode()).hexdigest()[:8]
    assert sent.names[0] == f"ofs.run.{kept}{digest}.successful"


def test_names_that_change_the_same_way_stay_apart(sent):
    parts = set()
    for batch_name in ("a.b", "a b", "a_b", "a/b", "日本", "中文"):
        metrics.run_ended(batch_name, "FAILED", 1.0)
        parts.add(sent.names[-2].split(".")[2])

    assert len(parts) == 6


def test_a_long_batch_name_is_cut_with_a_digest_so_two_long_names_stay_apart(sent):
    first, second = "A" * 50 + "_ONE", "A" * 50 + "_TWO"

    metrics.run_ended(first, "FAILED", 1.0)
    metrics.run_ended(second, "FAILED", 1.0)

    parts = [name.split(".")[2] for name in sent.names[::2]]
    assert parts[0] != parts[1]
    assert all(len(part) == metrics.MAX_BATCH_IN_NAME and part.startswith("A" * 23 + "_") for part in parts)
    metrics.run_ended(first, "FAILED", 1.0)
    assert sent.names[-2].split(".")[2] == parts[0]  # the same batch always gets the same name
