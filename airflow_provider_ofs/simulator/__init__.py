"""ESI simulator: a local stand-in for the OFS External Scheduler Interface and its IAM token endpoint.

Independent of the rest of the provider (it imports neither Airflow nor the client code), so that
it tests the client from the outside. Names are imported lazily: importing this package (as the
pytest plugin does) does not load aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_ofs.simulator.catalogue import Catalogue, CatalogueError, load_catalogue
    from airflow_provider_ofs.simulator.codes import ApiCode, RunCode
    from airflow_provider_ofs.simulator.credentials import SimulatorCredentials
    from airflow_provider_ofs.simulator.engine import RunView
    from airflow_provider_ofs.simulator.journal import Journal, JournalEntry
    from airflow_provider_ofs.simulator.simulator import Simulator
    from airflow_provider_ofs.simulator.tls import make_self_signed_cert

_EXPORTS = {
    "ApiCode": "codes",
    "Catalogue": "catalogue",
    "CatalogueError": "catalogue",
    "Journal": "journal",
    "JournalEntry": "journal",
    "RunCode": "codes",
    "RunView": "engine",
    "Simulator": "simulator",
    "SimulatorCredentials": "credentials",
    "load_catalogue": "catalogue",
    "make_self_signed_cert": "tls",
}

__all__ = [
    "ApiCode",
    "Catalogue",
    "CatalogueError",
    "Journal",
    "JournalEntry",
    "RunCode",
    "RunView",
    "Simulator",
    "SimulatorCredentials",
    "load_catalogue",
    "make_self_signed_cert",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
