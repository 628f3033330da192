"""Fixtures of the reliability tests: a shared simulator with a small catalogue, the fault-matrix report, and
whether the servers of the topology tests are installed."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from airflow_provider_ofs.simulator import Simulator
from tests.reliability.catalogues import MATRIX_CATALOGUE
from tests.reliability.fault_matrix import SLOW_SECONDS, Result, proxy_tables, render
from tests.reliability.topology import REQUIRED_ENV_VAR, missing_parts

SPEED = 100.0

_MATRIX_KEY = pytest.StashKey[dict[tuple[str, str], Result]]()


@pytest.fixture(scope="module")
def rel_simulator() -> Iterator[Simulator]:
    """One simulator for a test module; each test calls ``reset()`` (runs, faults, journal) before use."""
    simulator = Simulator(MATRIX_CATALOGUE, speed=SPEED, slow_seconds=SLOW_SECONDS).start()
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def rel_tls_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulator, str]]:
    """``rel_simulator`` over HTTPS, with its self-signed certificate (the CA bundle that verifies it)."""
    from airflow_provider_ofs.simulator.tls import make_self_signed_cert

    certfile, keyfile = make_self_signed_cert(tmp_path_factory.mktemp("tls"))
    simulator = Simulator(
        MATRIX_CATALOGUE, speed=SPEED, slow_seconds=SLOW_SECONDS, ssl_certfile=certfile, ssl_keyfile=keyfile
    ).start()
    yield simulator, certfile
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
    if any(":" not in key for _, key in results):
        terminalreporter.write_line(render(results, mark_unexpected=True))
    if any(":" in key for _, key in results):
        terminalreporter.write_line("\nThrough a proxy:\n\n" + proxy_tables(results, mark_unexpected=True))


@pytest.fixture
def servers_present() -> None:
    """Skip outside ``make test-topology`` when the servers or drivers are missing; there, fail instead."""
    missing = missing_parts()
    if missing and os.environ.get(REQUIRED_ENV_VAR):
        pytest.fail("make test-topology needs: " + ", ".join(missing))
    if missing:
        pytest.skip("the topology needs " + ", ".join(missing) + " (make test-topology installs them)")
