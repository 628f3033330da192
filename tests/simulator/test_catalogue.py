"""Catalogue loading and validation (JSON, YAML, dict, built-in demo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_ofs.simulator import CatalogueError, load_catalogue


def test_builtin_demo_catalogue() -> None:
    catalogue = load_catalogue()
    assert "OFS_DAILY_DATA_LOAD" in catalogue.batches
    assert "fail_once" in {t.outcome for t in catalogue.batches["OFS_REG_CAPITAL_CALC"].tasks}
    assert "fail" in {t.outcome for t in catalogue.batches["OFS_LIQUIDITY_RISK"].tasks}
    assert "abort" in {t.outcome for t in catalogue.batches["OFS_IFRS9_ECL"].tasks}
    assert catalogue.groups["OFS_EOD_GROUP"].batches
    for batch in catalogue.batches.values():
        assert sum(t.seconds for t in batch.tasks) < 5  # quick demo at speed 1


def test_json_and_yaml_files(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    data = {
        "batches": {"B": {"tasks": [{"code": "T1", "seconds": 1.5, "outcome": "fail_once"}]}},
        "groups": {"G": {"batches": ["B"]}},
        "faults": [{"verb": "status", "batch": "B", "answers": [503, "reset", "html", 429]}],
    }
    json_file = tmp_path / "c.json"
    json_file.write_text(json.dumps(data))
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text(
        "batches:\n  B:\n    tasks:\n      - {code: T1, seconds: 1.5, outcome: fail_once}\n"
        "groups:\n  G: {batches: [B]}\n"
        "faults:\n  - {verb: status, batch: B, answers: [503, reset, html, 429]}\n"
    )
    for path in (json_file, yaml_file):
        catalogue = load_catalogue(path)
        assert catalogue.batches["B"].tasks[0].outcome == "fail_once"
        assert list(catalogue.faults[0].answers) == [503, "reset", "html", 429]


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({}, "batches"),
        ({"batches": {"B": {"tasks": []}}}, "'B'"),
        ({"batches": {"B": {"tasks": [{"code": "T", "outcome": "explode"}]}}}, "'T'"),
        ({"batches": {"B": {"tasks": [{"code": "T", "seconds": -1}]}}}, "'T'"),
        ({"batches": {"B": {"tasks": [{"code": "T"}, {"code": "T"}]}}}, "duplicate"),
        ({"batches": {"B": {"tasks": [{"code": "T"}]}}, "groups": {"G": {"batches": ["NOPE"]}}}, "'NOPE'"),
        ({"batches": {"B": {"tasks": [{"code": "T"}]}}, "faults": [{"verb": "status", "answers": [200]}]}, "faults[0]"),
        ({"batches": {"B": {"tasks": [{"code": "T"}]}}, "typo": 1}, "typo"),
    ],
)
def test_validation_names_the_bad_entry(data: dict[str, object], named: str) -> None:
    with pytest.raises(CatalogueError, match=named.replace("[", r"\[").replace("]", r"\]")):
        load_catalogue(data)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read"):
        load_catalogue(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(CatalogueError, match="not valid JSON"):
        load_catalogue(broken)
