"""Render the bench's numbers: Markdown tables with goals, the machine, the RESULTS.md block, the plot."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.harness import Scenario, median_scenario
from bench.imports import CONTROL_DAG, EXAMPLE_DAG, ImportCost

BEGIN, END = "<!-- bench:begin (written by bench/run.py) -->", "<!-- bench:end -->"
GOAL_FLOOR_RATIO = 1.1
GOAL_HTTP_EVENT_FACTOR = 4.0
GOAL_GROWTH_KB = 20.0
GOAL_IMPORT_MS = 30.0
LABELS = {
    "floor": "floor: bare aiohttp",
    "provider": "OFSBatchRunTrigger",
    "http-event": "HttpEventTrigger",
    "sync-floor": "floor: requests.Session",
    "sync-provider": "OFSSchedulerHook.get_status",
}


def machine_info() -> dict[str, str]:
    """CPU, cores, memory, OS and the versions that matter, for the record."""
    from importlib.metadata import version

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        import psutil

        memory = f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return {
        "machine": f"{cpu}, {os.cpu_count()} cores, {memory}; {platform.system()} {platform.release()}",
        "software": (
            f"Python {platform.python_version()}, apache-airflow {version('apache-airflow')}, "
            f"aiohttp {version('aiohttp')}, requests {version('requests')}, tenacity {version('tenacity')}, "
            f"apache-airflow-providers-http {version('apache-airflow-providers-http')}"
        ),
        "load": f"load average at start {load}",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _find(scenarios: Sequence[Scenario], client: str, transport: str) -> Scenario | None:
    return next((s for s in scenarios if s.client == client and s.transport == transport and not s.error), None)


def _failed_row(scenario: Scenario, columns: int) -> str:
    cells = " | ".join([f"failed: {scenario.error}"] + [""] * (columns - 3))
    return f"| {scenario.transport} | {LABELS[scenario.client]} | {cells} |"


def _mb(value: float) -> str:
    return f"{value / 2**20:.0f}"


def watch_section(
    plan: Any, watch: Sequence[Scenario], rounds: Sequence[Scenario] = (), larger: Sequence[Scenario] = ()
) -> list[str]:
    """Section 1: table and goals; ``larger`` holds runs at a larger N, for the memory per extra watched run."""
    median = (
        f"Floor and provider ran {plan.rounds} times each, alternately; the table shows the run with the median "
        "CPU per poll of each."
        if plan.rounds > 1
        else ""
    )
    lines = [
        f"### 1. Triggerer cost: {plan.n} runs watched at once, {plan.polls} polls each, "
        f"poll interval {plan.interval(plan.n)} s",
        "",
        *([median, ""] if median else []),
        "| transport | client | polls | CPU µs/poll | x floor | peak RSS MB | RSS growth KiB/run | "
        "token requests | TCP connections | GC CPU ms | wall s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    goals: list[str] = []
    for transport in ("HTTP", "TLS"):
        floor = _find(watch, "floor", transport)
        if floor is None:
            continue
        for scenario in (s for s in watch if s.transport == transport):
            if scenario.error:
                lines.append(_failed_row(scenario, 11))
                continue
            r = scenario.result
            lines.append(
                f"| {transport} | {LABELS[scenario.client]} | {scenario.polls} | {scenario.cpu_us_per_poll:.0f} | "
                f"{scenario.cpu_us_per_poll / floor.cpu_us_per_poll:.2f} | {_mb(r['rss_peak'])} | "
                f"{scenario.growth_per_run_kb:.1f} | {scenario.server.get('token_requests', 0)} | "
                f"{scenario.server.get('connections', 0)} | {r.get('gc_cpu_s', 0) * 1000:.0f} | {r['wall_s']:.1f} |"
            )
        provider, http_event = _find(watch, "provider", transport), _find(watch, "http-event", transport)
        if provider is None or http_event is None:
            continue
        ratio = provider.cpu_us_per_poll / floor.cpu_us_per_poll
        factor = http_event.cpu_us_per_poll / provider.cpu_us_per_poll
        each = round_ratios(rounds, transport)
        spread = f"; round by round {each}" if each else ""
        tokens = provider.server.get("token_requests", 0)
        expected = plan.n * plan.polls
        goals += [
            f"- {transport}: CPU per poll {ratio:.2f}x the floor{spread} (goal ≤ {GOAL_FLOOR_RATIO}x): "
            f"{_verdict(ratio <= GOAL_FLOOR_RATIO)}",
            f"- {transport}: {factor:.1f}x below HttpEventTrigger; bare aiohttp is "
            f"{http_event.cpu_us_per_poll / floor.cpu_us_per_poll:.1f}x below it "
            f"(goal ≥ {GOAL_HTTP_EVENT_FACTOR:.0f}x): {_verdict(factor >= GOAL_HTTP_EVENT_FACTOR)}",
            f"- {transport}: {tokens} token request(s) for {plan.n} watchers on one connection (goal 1): "
            f"{_verdict(tokens == 1)}",
            memory_goal(transport, provider, _find_largest(larger, "provider", transport)),
            f"- {transport}: every client made exactly NxK = {expected} polls and saw every run succeed: "
            + _verdict(all(s.polls == expected and s.result["runs_succeeded"] == plan.n for s in (floor, provider))),
        ]
    return [*lines, "", "Goals:", "", *goals, ""]


def _find_largest(scenarios: Sequence[Scenario], client: str, transport: str) -> Scenario | None:
    found = [s for s in scenarios if s.client == client and s.transport == transport and not s.error]
    return max(found, key=lambda s: s.result["n"], default=None)


def marginal_kib(low: Scenario, high: Scenario) -> float:
    """Peak RSS added per extra watched run from ``low``'s N to ``high``'s, in KiB."""
    extra_runs = int(high.result["n"]) - int(low.result["n"])
    return float(high.result["rss_peak"] - low.result["rss_peak"]) / extra_runs / 1024


def memory_goal(transport: str, provider: Scenario, larger: Scenario | None) -> str:
    """The memory goal line: per extra watched run when a larger N was measured, else the average per run."""
    n = provider.result["n"]
    average = f"{provider.growth_per_run_kb:.1f} KiB per run at N = {n}, the pooled connections included"
    if larger is None or larger.result["n"] <= n:
        ok = provider.growth_per_run_kb * 1.024 < GOAL_GROWTH_KB
        return f"- {transport}: RSS growth {average} (goal < {GOAL_GROWTH_KB:.0f} KB): {_verdict(ok)}"
    extra = marginal_kib(provider, larger)
    return (
        f"- {transport}: memory per extra watched run {extra:.1f} KiB (peak RSS from N = {n} to "
        f"{larger.result['n']}; {average}) (goal < {GOAL_GROWTH_KB:.0f} KB): {_verdict(extra * 1.024 < GOAL_GROWTH_KB)}"
    )


def round_ratios(rounds: Sequence[Scenario], transport: str) -> str:
    """Provider over floor CPU per poll for each round (rounds alternate floor, provider), when there are several."""
    floors = [s for s in rounds if s.client == "floor" and s.transport == transport and not s.error]
    providers = [s for s in rounds if s.client == "provider" and s.transport == transport and not s.error]
    if len(floors) < 2 or len(floors) != len(providers):
        return ""
    return ", ".join(f"{p.cpu_us_per_poll / f.cpu_us_per_poll:.2f}x" for f, p in zip(floors, providers, strict=True))


def setup_section(plan: Any, watch: Sequence[Scenario], setup: Sequence[Scenario]) -> list[str]:
    """Section 1b: split CPU into per-watcher set-up and steady-state per poll (runs of K polls vs 1 poll)."""
    lines = [
        f"#### 1b. Set-up per watcher vs steady state (HTTP; runs of {plan.polls} polls vs runs of 1 poll)",
        "",
        "| client | set-up CPU µs per watcher (first poll included) | steady-state CPU µs per later poll | x floor |",
        "| --- | ---: | ---: | ---: |",
    ]
    split: dict[str, tuple[float, float]] = {}
    for client in ("floor", "provider"):
        full, one = _find(watch, client, "HTTP"), _find(setup, client, "HTTP")
        if full is None or one is None or plan.polls < 2:
            continue
        n = full.result["n"]
        steady = (full.result["cpu_s"] - one.result["cpu_s"]) / (n * (plan.polls - 1)) * 1e6
        split[client] = (one.result["cpu_s"] / n * 1e6, steady)
    for client, (first, steady) in split.items():
        ratio = steady / split["floor"][1] if "floor" in split else math.nan
        lines.append(f"| {LABELS[client]} | {first:.0f} | {steady:.0f} | {ratio:.2f} |")
    return [*lines, ""] if split else []


def changing_section(plan: Any, changing: Sequence[Scenario]) -> list[str]:
    """Section 1c: the provider's worst case, every answer different, so each one is decoded and assessed."""
    if not changing:
        return []
    floor, provider = (median_scenario([s for s in changing if s.client == c]) for c in ("floor", "provider"))
    if floor.error or provider.error:
        return [f"#### 1c. Every answer different: failed: {floor.error or provider.error}", ""]
    each = round_ratios(changing, "HTTP")
    spread = f" (round by round {each})" if each else ""
    return [
        f"#### 1c. Every answer different (HTTP, {plan.n} runs x {plan.polls} polls, medians of {plan.rounds})",
        "",
        "Ongoing runs answer the same bytes at every poll above, as a real run does between state changes, and "
        "the provider decodes an answer only when it differs from the run's previous one. Here every answer "
        "differs (the server puts the poll number in it), so the provider decodes and assesses each one.",
        "",
        "| client | CPU µs/poll | x floor |",
        "| --- | ---: | ---: |",
        f"| {LABELS['floor']} | {floor.cpu_us_per_poll:.0f} | 1.00 |",
        f"| {LABELS['provider']} | {provider.cpu_us_per_poll:.0f} | "
        f"{provider.cpu_us_per_poll / floor.cpu_us_per_poll:.2f}{spread} |",
        "",
    ]


def sync_section(sync: Sequence[Scenario]) -> list[str]:
    """Section 2: the sync hook against requests."""
    lines = [
        "### 2. Sync path: status calls in a row on one connection",
        "",
        "| transport | client | calls | CPU µs/call | x floor | wall ms/call |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for scenario in sync:
        if scenario.error:
            lines.append(_failed_row(scenario, 6))
            continue
        floor = _find(sync, "sync-floor", scenario.transport)
        r = scenario.result
        cpu = r["cpu_s"] / r["calls"] * 1e6
        floor_cpu = floor.result["cpu_s"] / floor.result["calls"] * 1e6 if floor else math.nan
        lines.append(
            f"| {scenario.transport} | {LABELS[scenario.client]} | {r['calls']} | {cpu:.0f} | "
            f"{cpu / floor_cpu:.2f} | {r['wall_s'] / r['calls'] * 1000:.2f} |"
        )
    return [*lines, ""]


def import_section(imports: Sequence[ImportCost]) -> list[str]:
    """Section 3: import cost over ``airflow.sdk``."""
    lines = [
        "### 3. Import cost over `import airflow.sdk` (`python -X importtime`, best of the runs, fresh interpreters)",
        "",
        "Cost = self time of the modules the target loads beyond `import airflow.sdk` (which is lazy: a DAG file "
        "that uses `DAG` or `BaseOperator` pays for those too).",
        "",
        "| target | ms over airflow.sdk | of which airflow_provider_ofs | airflow.sdk alone ms | "
        "heavy modules loaded | biggest additions by package (ms) |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    goals = []
    for cost in imports:
        if cost.error:
            lines.append(f"| `{cost.target}` | n/a | | {cost.baseline_ms:.0f} | | not measured: {cost.error} |")
            goals.append(f"- `{cost.target}`: not measured ({cost.error})")
            continue
        heavy = ", ".join(f"`{name}`" for name in cost.heavy_loaded) or "none"
        top = ", ".join(f"`{name}` {ms:.1f}" for name, ms in cost.top_extra)
        lines.append(
            f"| `{cost.target}` | {cost.over_baseline_ms:.1f} | {cost.provider_ms:.1f} | {cost.baseline_ms:.0f} | "
            f"{heavy} | {top} |"
        )
        if cost.target == CONTROL_DAG:
            continue  # Airflow's own cost: no goal, the difference below
        ok = cost.over_baseline_ms < GOAL_IMPORT_MS and not cost.heavy_loaded
        goals.append(
            f"- `{cost.target}`: {cost.over_baseline_ms:.1f} ms (goal < {GOAL_IMPORT_MS:.0f} ms, no async "
            f"client or simulator): {_verdict(ok)}"
        )
    measured = {cost.target: cost.over_baseline_ms for cost in imports if not cost.error}
    if EXAMPLE_DAG in measured and CONTROL_DAG in measured:
        more = measured[EXAMPLE_DAG] - measured[CONTROL_DAG]
        goals.append(
            f"- `{EXAMPLE_DAG}` costs {abs(more):.1f} ms {'more' if more >= 0 else 'less'} than its control "
            f"`{CONTROL_DAG}` (the same DAG with EmptyOperator tasks: {measured[CONTROL_DAG]:.1f} ms, Airflow's "
            "own cost): what the provider adds to parsing the file"
        )
    return [*lines, "", "Goals:", "", *goals, ""]


def scale_section(plan: Any, scale: Sequence[Scenario]) -> list[str]:
    """Section 4: cost per poll and memory against N."""
    lines = [
        f"### 4. Scale curve (plain HTTP, {plan.polls} polls per run; the interval grows with N to keep the "
        f"server near {plan.rate:.0f} polls/s)",
        "",
        "| N | poll interval s | client | CPU µs/poll | x floor | peak RSS MB | RSS growth KiB/run |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for scenario in scale:
        if scenario.error:
            lines.append(f"| | | {LABELS[scenario.client]} | failed: {scenario.error} | | | |")
            continue
        r = scenario.result
        floor = next(s for s in scale if s.client == "floor" and not s.error and s.result["n"] == r["n"])
        lines.append(
            f"| {r['n']} | {r['interval']} | {LABELS[scenario.client]} | {scenario.cpu_us_per_poll:.0f} | "
            f"{scenario.cpu_us_per_poll / floor.cpu_us_per_poll:.2f} | {_mb(r['rss_peak'])} | "
            f"{scenario.growth_per_run_kb:.1f} |"
        )
    provider = sorted((s for s in scale if s.client == "provider" and not s.error), key=lambda s: s.result["n"])
    if len(provider) >= 2:
        high = provider[-1]
        steps = ", ".join(f"N={s.result['n']}: {high.cpu_us_per_poll / s.cpu_us_per_poll:.2f}x" for s in provider[:-1])
        grows = any(high.cpu_us_per_poll > 1.2 * s.cpu_us_per_poll for s in provider[1:-1])
        below = provider[-2]
        extra_runs = high.result["n"] - below.result["n"]
        marginal = marginal_kib(below, high)
        lines += [
            "",
            f"Provider CPU per poll at N={high.result['n']} against smaller N ({steps}): "
            f"{'it grows with N' if grows else 'no growth with N'} (the smallest N carries the per-process "
            f"fixed costs, such as the token request and the TLS context, over few polls).",
            "",
            f"Memory per extra watched run (peak RSS from N={below.result['n']} to N={high.result['n']}, "
            f"divided by the {extra_runs} extra runs): {marginal:.1f} KiB (goal < {GOAL_GROWTH_KB:.0f} KB): "
            f"{_verdict(marginal * 1.024 < GOAL_GROWTH_KB)}.",
        ]
    return [*lines, "", "![CPU per poll and memory against N](scale_curve.png)", ""]


def render(measured: dict[str, Any], machine: dict[str, str], command: str, elapsed: float) -> str:
    """The whole report as Markdown (printed, and written into RESULTS.md)."""
    plan = measured["plan"]
    head = [
        f"Measured {machine['date']} with `{command}` in {elapsed:.0f} s.",
        "",
        f"- Machine: {machine['machine']}; {machine['load']}.",
        f"- Software: {machine['software']}.",
        "- Server: `bench/status_server.py` (aiohttp) in its own process on 127.0.0.1; each run ends on its "
        "K-th status poll, so every client makes exactly the same polls. Each scenario runs in a fresh client "
        "process that has imported Airflow's triggerer (`airflow.jobs.triggerer_job_runner`), as a triggerer "
        "process has; CPU is that process's (all threads) over the watching window, token request included.",
        "",
    ]
    body = [
        *watch_section(
            plan, measured["watch"], measured.get("rounds", []), [*measured["scale"], *measured.get("larger", [])]
        ),
        *setup_section(plan, measured["watch"], measured.get("setup", [])),
        *changing_section(plan, measured.get("changing", [])),
        *sync_section(measured["sync"]),
        *import_section(measured["imports"]),
        *scale_section(plan, measured["scale"]),
    ]
    return "\n".join([*head, *body]).rstrip() + "\n"


def write_results(text: str, path: Path) -> None:
    """Replace the generated block of ``path`` (between the markers), keeping the prose around it."""
    block = f"{BEGIN}\n{text}{END}"
    if path.exists() and BEGIN in (current := path.read_text(encoding="utf-8")) and END in current:
        before, rest = current.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        path.write_text(before + block + after, encoding="utf-8")
    else:
        path.write_text(f"# Benchmark results\n\n{block}\n", encoding="utf-8")


def write_plot(scale: Sequence[Scenario], path: Path) -> bool:
    """Plot CPU per poll and RSS growth per run against N; ``False`` when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (cpu_axis, rss_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for client, style in (("provider", "o-"), ("floor", "s--")):
        points = sorted(((s.result["n"], s) for s in scale if s.client == client and not s.error), key=lambda p: p[0])
        if not points:
            continue
        ns = [n for n, _ in points]
        cpu_axis.plot(ns, [s.cpu_us_per_poll for _, s in points], style, label=LABELS[client])
        rss_axis.plot(ns, [s.result["rss_peak"] / 2**20 for _, s in points], style, label=LABELS[client])
    for axis, title, unit in (
        (cpu_axis, "CPU per status poll", "µs"),
        (rss_axis, "Peak RSS of the watching process", "MiB"),
    ):
        axis.set_xscale("log")
        axis.set_xlabel("runs watched at once (N)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.set_ylim(bottom=0)
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True
