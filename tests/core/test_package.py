"""What importing the package loads: the top level and the simulator need no Airflow, DAG parsing no aiohttp."""

from __future__ import annotations

import subprocess
import sys

import pytest

from airflow_provider_ofs._compat import airflow_version


def loaded_after(statement: str, *modules: str) -> dict[str, bool]:
    """Run ``statement`` in a fresh interpreter and say which of ``modules`` it loaded."""
    probe = f"import sys\n{statement}\nprint(*[m in sys.modules for m in {list(modules)!r}])"
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return dict(zip(modules, (word == "True" for word in output.split()[-len(modules) :]), strict=True))


def test_top_level_states_and_simulator_import_without_airflow() -> None:
    loaded = loaded_after(
        "import airflow_provider_ofs\nfrom airflow_provider_ofs import RunState\n"
        "import airflow_provider_ofs.simulator.simulator",
        "airflow",
        "airflow_provider_ofs.exceptions",
    )

    assert loaded == {"airflow": False, "airflow_provider_ofs.exceptions": False}


def test_the_pytest_plugin_loads_nothing_beyond_its_packages() -> None:
    """Every pytest run of an environment with the provider installed loads the plugin (entry point pytest11)."""
    loaded = loaded_after(
        "import pytest\nimport airflow_provider_ofs.simulator.pytest_plugin",
        "airflow_provider_ofs.states",
        "airflow_provider_ofs.simulator.simulator",
        "aiohttp",
        "airflow",
    )

    assert not any(loaded.values()), loaded


def test_top_level_errors_load_on_first_use_and_are_airflow_exceptions() -> None:
    from airflow.exceptions import AirflowException

    import airflow_provider_ofs

    assert issubclass(airflow_provider_ofs.OFSRunFailedError, AirflowException)
    assert airflow_provider_ofs.OFSNotOngoingError.code == -8


def test_operator_module_does_not_load_the_hook_the_async_client_or_the_simulator() -> None:
    # A DAG file is parsed again and again; the hook and the wire protocol load when a task runs.
    loaded = loaded_after(
        "import airflow_provider_ofs.operators.batch, airflow_provider_ofs.sensors.batch",
        "aiohttp",
        "airflow_provider_ofs.hooks.scheduler",
        "airflow_provider_ofs.protocol",
        "airflow_provider_ofs.hooks.async_client",
        "airflow_provider_ofs.simulator.server",
    )

    assert not any(loaded.values()), loaded


@pytest.mark.skipif(airflow_version() < (3, 0), reason="Airflow 2 loads requests itself when it starts")
def test_parsing_a_dag_with_the_operators_loads_no_http_client_and_no_trigger_base() -> None:
    # Parsing never sends a request or runs a trigger: requests (with urllib3) and Airflow's trigger base
    # load when a task calls ESI or defers (bench/RESULTS.md, import cost).
    loaded = loaded_after(
        "import airflow.sdk\nimport airflow_provider_ofs.operators.batch, airflow_provider_ofs.sensors.batch",
        "requests",
        "urllib3",
        "airflow.triggers.base",
        "airflow_provider_ofs.triggers.batch",
    )

    assert not any(loaded.values()), loaded


def test_the_trigger_base_classes_load_on_first_use() -> None:
    from airflow.triggers.base import BaseTrigger

    from airflow_provider_ofs import _compat
    from airflow_provider_ofs.triggers.batch import OFSBatchRunTrigger

    assert _compat.BaseTrigger is BaseTrigger
    assert issubclass(OFSBatchRunTrigger, BaseTrigger)
    with pytest.raises(AttributeError, match="NoSuchName"):
        _compat.NoSuchName  # noqa: B018


def test_nothing_of_openlineage_loads_unless_the_openlineage_provider_asks_for_facets() -> None:
    # Only get_openlineage_facets_on_complete imports the lineage module (and through it OpenLineage), and
    # only the OpenLineage provider calls it: without that provider installed, nothing of it is ever loaded.
    loaded = loaded_after(
        "import airflow_provider_ofs.operators.batch, airflow_provider_ofs.sensors.batch\n"
        "import airflow_provider_ofs.triggers.batch, airflow_provider_ofs.hooks.scheduler\n"
        "import airflow_provider_ofs.hooks.async_client",
        "openlineage",
        "airflow.providers.openlineage.extractors",
        "airflow_provider_ofs.lineage",
    )

    assert not any(loaded.values()), loaded
