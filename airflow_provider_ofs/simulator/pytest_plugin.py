"""pytest plugin (entry point ``pytest11``): fixtures that serve a simulator on 127.0.0.1.

- ``ofs_simulator``: a started ``Simulator`` (built-in catalogue, speed 50), stopped after the test.
  Override its arguments with ``@pytest.mark.ofs_simulator(catalogue=..., speed=...)``.
- ``ofs_simulator_factory``: a callable taking ``Simulator`` arguments; every simulator it started
  is stopped after the test.
- ``ofs_connection``: the ``ofs_simulator``, with ``AIRFLOW_CONN_OFS_SCHEDULER_DEFAULT`` set to it.

The simulator itself is imported only when a fixture is used, to keep pytest start-up light.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_ofs.simulator.simulator import Simulator

DEFAULT_SPEED = 50.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ofs_simulator(**kwargs): Simulator arguments for the ofs_simulator fixture")


@pytest.fixture
def ofs_simulator_factory() -> Iterator[Callable[..., Simulator]]:
    """Start simulators with any ``Simulator`` arguments (speed defaults to 50)."""
    from airflow_provider_ofs.simulator.simulator import Simulator

    started: list[Simulator] = []

    def factory(*args: Any, **kwargs: Any) -> Simulator:
        kwargs.setdefault("speed", DEFAULT_SPEED)
        simulator = Simulator(*args, **kwargs).start()
        started.append(simulator)
        return simulator

    yield factory
    for simulator in reversed(started):
        simulator.stop()


@pytest.fixture
def ofs_simulator(request: pytest.FixtureRequest, ofs_simulator_factory: Callable[..., Simulator]) -> Simulator:
    """A started simulator; arguments from the ``ofs_simulator`` marker when present."""
    marker = request.node.get_closest_marker("ofs_simulator")
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker else {}
    args = marker.args if marker else ()
    return ofs_simulator_factory(*args, **kwargs)


@pytest.fixture
def ofs_connection(ofs_simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """``ofs_simulator`` with ``AIRFLOW_CONN_OFS_SCHEDULER_DEFAULT`` pointing at it."""
    from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR

    monkeypatch.setenv(CONN_ENV_VAR, ofs_simulator.connection_json())
    return ofs_simulator
