"""Fixtures of the simulator tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from esi_sim_support import CATALOGUE, SECRETS, EsiClient

from airflow_provider_ofs.simulator import Simulator


@pytest.fixture
def sim(ofs_simulator_factory: Callable[..., Simulator]) -> Simulator:
    return ofs_simulator_factory(CATALOGUE, speed=20, credentials=SECRETS)


@pytest.fixture
def esi(sim: Simulator) -> Iterator[EsiClient]:
    client = EsiClient(sim)
    yield client
    client.http.close()
