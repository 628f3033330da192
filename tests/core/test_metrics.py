"""Metric names: what ``airflow_provider_ofs.metrics`` sends through Airflow's ``Stats``, and that Airflow takes it."""

from __future__ import annotations

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


@pytest.mark.parametrize(
    ("batch_name", "part"),
    [
        ("OFS_EOD-1", "OFS_EOD-1"),
        ("OFS_REG_CAPITAL_CALC_QUARTERLY", "OFS_REG_CAPITAL_CALC_QUARTERLY"),
        ("EOD run/2026.12", "EOD_run_2026_12"),
        ("Zählung", "Z_hlung"),
        ("", "unnamed"),
        ("...", "_"),
    ],
)
def test_the_batch_part_keeps_letters_digits_underscore_and_dash_and_replaces_each_run_of_others(
    sent, batch_name, part
):
    metrics.run_ended(batch_name, "SUCCESSFUL", 1.0)

    assert sent.names == [f"ofs.run.{part}.successful", f"ofs.run.{part}.duration"]


def test_a_long_batch_name_is_cut_with_a_digest_so_two_long_names_stay_apart(sent):
    first, second = "A" * 50 + "_ONE", "A" * 50 + "_TWO"

    metrics.run_ended(first, "FAILED", 1.0)
    metrics.run_ended(second, "FAILED", 1.0)

    parts = [name.split(".")[2] for name in sent.names[::2]]
    assert parts[0] != parts[1]
    assert all(len(part) == metrics.MAX_BATCH_IN_NAME and part.startswith("A" * 23 + "_") for part in parts)
    metrics.run_ended(first, "FAILED", 1.0)
    assert sent.names[-2].split(".")[2] == parts[0]  # the same batch always gets the same name
