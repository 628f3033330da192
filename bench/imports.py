"""Import cost: ``python -X importtime`` of a provider module or a DAG file, minus ``airflow.sdk`` alone.

Each measurement is a fresh interpreter (after one untimed run that writes the byte-code caches) that
imports ``airflow.sdk`` and then the target. The cost over the baseline is the sum of the "self" times
``-X importtime`` reports for the modules that ``import airflow.sdk`` alone does not load; the best
of ``repeats`` runs is kept, since noise only ever adds time. (Subtracting two totals of about two
seconds each would drown a 30 ms goal in noise.) It also names the modules the target adds, so that a
heavy import (the async HTTP client, the simulator) shows up by name.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

BASELINE = "import airflow.sdk"
#: Modules a DAG file must not pull in: they are only needed where a trigger or a test runs.
HEAVY_MODULES = ("aiohttp", "airflow_provider_ofs.hooks.async_client", "airflow_provider_ofs.simulator")


@dataclass(frozen=True)
class ImportProfile:
    """What one interpreter imported: self time per module, in microseconds."""

    self_us: Mapping[str, int]

    @property
    def total_ms(self) -> float:
        """Sum of all modules' own import time."""
        return sum(self.self_us.values()) / 1000


@dataclass
class ImportCost:
    """The import cost of one target over the ``airflow.sdk`` baseline."""

    target: str
    over_baseline_ms: float
    baseline_ms: float
    provider_ms: float = float("nan")
    heavy_loaded: list[str] = field(default_factory=list)
    top_extra: list[tuple[str, float]] = field(default_factory=list)
    error: str = ""


def profile(code: str, env: Mapping[str, str], cwd: Path) -> ImportProfile:
    """Run ``code`` in a fresh interpreter with ``-X importtime`` and read its report."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed")
    times: dict[str, int] = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line[len("import time:") :].split("|", 2)
        times[name.strip()] = times.get(name.strip(), 0) + int(self_us)
    return ImportProfile(times)


def runs(code: str, env: Mapping[str, str], cwd: Path, repeats: int) -> list[ImportProfile]:
    """``repeats`` profiles of ``code``, after one warm-up run that writes the byte-code caches."""
    profile(code, env, cwd)
    return [profile(code, env, cwd) for _ in range(max(1, repeats))]


def _ms(times: Mapping[str, int], names: set[str]) -> float:
    return sum(us for name, us in times.items() if name in names) / 1000


def import_cost(
    target: str, code: str, env: Mapping[str, str], cwd: Path, repeats: int, baseline: list[ImportProfile]
) -> ImportCost:
    """The cost of ``code`` over ``import airflow.sdk``, and which heavy modules it loaded."""
    baseline_ms = min(run.total_ms for run in baseline)
    try:
        loaded = runs(f"{BASELINE}\n{code}", env, cwd, repeats)
    except RuntimeError as error:
        return ImportCost(target, float("nan"), baseline_ms, error=str(error))
    base_modules = set().union(*(run.self_us for run in baseline))
    extra = {name for run in loaded for name in run.self_us if name not in base_modules}
    provider = {name for name in extra if name.startswith("airflow_provider_ofs")}
    groups: dict[str, int] = {}
    for name, us in loaded[-1].self_us.items():
        if name in extra:
            group = ".".join(name.split(".")[:2])
            groups[group] = groups.get(group, 0) + us
    top = sorted(groups.items(), key=lambda item: -item[1])[:5]
    return ImportCost(
        target=target,
        over_baseline_ms=min(_ms(run.self_us, extra) for run in loaded),
        baseline_ms=baseline_ms,
        provider_ms=min(_ms(run.self_us, provider) for run in loaded),
        heavy_loaded=sorted(name for name in extra if name.startswith(HEAVY_MODULES)),
        top_extra=[(name, us / 1000) for name, us in top],
    )


#: The DAG file measured, and its control: the same DAG with EmptyOperator tasks (Airflow's own cost).
EXAMPLE_DAG = "example_dags/ofs_daily_data_load.py"
CONTROL_DAG = "bench/control_dag.py"


def measure_imports(env: Mapping[str, str], root: Path, repeats: int) -> list[ImportCost]:
    """Import cost of ``airflow_provider_ofs.operators.batch``, of an example DAG file and of its control."""
    baseline = runs(BASELINE, env, root, repeats)
    operators = "import airflow_provider_ofs.operators.batch"
    costs = [import_cost("airflow_provider_ofs.operators.batch", operators, env, root, repeats, baseline)]
    for dag in (EXAMPLE_DAG, CONTROL_DAG):
        code = f"import runpy; runpy.run_path({str(root / dag)!r})"
        costs.append(import_cost(dag, code, env, root, repeats, baseline))
    return costs
