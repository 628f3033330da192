"""Fixtures of the reliability tests: a shared simulator with a small catalogue, and the fault-matrix report."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_ofs.simulator import Simulator
from tests.reliability.catalogues import MATRIX_CATALOGUE
from tests.reliability.fault_matrix import SLOW_SECONDS, Result, render

SPEED = 100.0

_MATRIX_KEY = pytest.StashKey[dict[tuple[str, str], Result]]()


@pytest.fixture(scope="module")
def rel_simulator() -> Iterator[Simulator]:
    """One simulator for a test module; each test calls ``reset()`` (runs, faults, journal) before use."""
    simulator = Simulator(MATRIX_CATALOGUE, speed=SPEED, slow_seconds=SLOW_SECONDS).start()
    yield simulator
    simulator.stop()


@pytest.fixture(scope="session")
def fault_matrix_results(pytestconfig: pytest.Config) -> dict[tuple[str, str], Result]:
    """Observed results by (call key, fault key); printed as a table at the end of the run."""
    return pytestconfig.stash.setdefault(_MATRIX_KEY, {})


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the observed fault matrix (unexpected cells in bold, with what the retry rules expect)."""
    results = terminalreporter.config.stash.get(_MATRIX_KEY, None)
    if not results:
        return
    terminalreporter.write_sep("=", f"OFS fault matrix: {len(results)} cells observed")
    terminalreporter.write_line(render(results, mark_unexpected=True))
