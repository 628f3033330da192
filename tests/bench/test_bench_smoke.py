"""The bench code runs end to end on a tiny scale (N=5), so that it cannot rot. No timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from airflow_provider_ofs._compat import airflow_version  # noqa: E402
from bench.harness import Scenario, bench_server, median_scenario, run_scenario  # noqa: E402
from bench.imports import CONTROL_DAG, EXAMPLE_DAG  # noqa: E402
from bench.report import BEGIN, END, memory_goal, render, round_ratios, write_plot, write_results  # noqa: E402
from bench.run import Plan, run  # noqa: E402

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(airflow_version() < (3, 0), reason="the benchmarks measure against Airflow 3's airflow.sdk"),
]


@pytest.fixture(scope="module")
def measured() -> dict[str, object]:
    """One tiny bench run: 5 watchers per client, 2 polls each, plain HTTP only, one import sample."""
    plan = Plan(n=5, polls=2, calls=5, scale=(2, 5), import_repeats=1, rate=600.0, tls=False)
    return run(plan, log=False)


def test_every_watcher_client_makes_exactly_n_times_k_polls_and_sees_every_run_succeed(measured):
    assert {s.client for s in measured["changing"]} == {"floor", "provider"}
    for scenario in [*measured["watch"], *measured["changing"]]:
        assert scenario.error == "", scenario.error
        assert scenario.polls == 5 * 2, scenario.client
        assert scenario.result["runs_succeeded"] == 5, scenario.client


def test_the_provider_trigger_fetches_one_token_for_all_its_watchers(measured):
    provider = next(s for s in measured["watch"] if s.client == "provider")
    assert provider.server["token_requests"] == 1


def test_sync_clients_and_import_cost_produce_numbers(measured):
    assert {s.client for s in measured["sync"]} == {"sync-floor", "sync-provider"}
    assert all(not s.error and s.result["calls"] == 5 for s in measured["sync"])
    target, example, control = measured["imports"]
    assert target.target == "airflow_provider_ofs.operators.batch"
    assert "aiohttp" not in target.heavy_loaded
    assert (example.target, control.target) == (EXAMPLE_DAG, CONTROL_DAG)
    assert (example.error, control.error) == ("", "")
    assert control.provider_ms == 0  # the control DAG imports nothing of the provider


def test_report_names_every_section_and_replaces_only_its_block(measured, tmp_path):
    text = render(measured, {"machine": "m", "software": "s", "load": "l", "date": "d"}, "cmd", 1.0)
    for heading in ("### 1.", "#### 1b.", "#### 1c.", "### 2.", "### 3.", "### 4."):
        assert heading in text
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Results\n\nprose before\n\n{BEGIN}\nold numbers\n{END}\n\nprose after\n")
    write_results(text, results)
    written = results.read_text()
    assert "old numbers" not in written
    assert written.startswith("# Results\n\nprose before")
    assert written.rstrip().endswith("prose after")
    assert "### 4." in written


def test_scale_curve_is_plotted_as_png(measured, tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "scale.png"
    assert write_plot(measured["scale"], plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_failing_scenario_is_reported_not_raised(tmp_path):
    with bench_server() as server:
        scenario = run_scenario(server, str(tmp_path), "floor", "bad", n=1, polls=0, interval="not-a-number")
    assert scenario.error


def _run(client: str, cpu_s: float, error: str = "") -> Scenario:
    return Scenario(client, "HTTP", {"cpu_s": cpu_s}, {"status_polls": 1000}, error)


def test_the_median_round_is_kept_and_a_failed_round_is_not_hidden():
    rounds = [_run("floor", 0.5), _run("floor", 0.3), _run("floor", 0.9)]
    assert median_scenario(rounds).result["cpu_s"] == 0.5
    assert median_scenario([*rounds, _run("floor", 0.1)]).result["cpu_s"] == 0.3
    assert median_scenario([*rounds, _run("floor", 0.0, error="boom")]).error == "boom"


def test_report_shows_the_ratio_of_every_round():
    rounds = [_run("floor", 0.4), _run("provider", 0.5), _run("floor", 0.5), _run("provider", 0.55)]
    assert round_ratios(rounds, "HTTP") == "1.25x, 1.10x"
    assert round_ratios(rounds[:2], "HTTP") == ""  # one round: nothing to show beside the table


def _memory(n: int, peak_mib: float) -> Scenario:
    return Scenario("provider", "TLS", {"n": n, "rss_before": 100 * 2**20, "rss_peak": int(peak_mib * 2**20)})


def test_memory_goal_is_per_extra_run_when_a_larger_n_was_measured():
    at_300, at_1000 = _memory(300, 108.0), _memory(1000, 115.0)  # 8 MiB at N=300, then 7 MiB for 700 more runs

    assert "memory per extra watched run 10.2 KiB" in memory_goal("TLS", at_300, at_1000)
    assert memory_goal("TLS", at_300, at_1000).endswith(": met")
    assert memory_goal("TLS", at_300, None).endswith(": **missed**")  # 27.3 KiB per run on average
