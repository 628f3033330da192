"""The package as users get it: ``make dist`` builds a wheel and an sdist, and the wheel works on its own.

The built wheel (not the editable checkout) goes into a clean virtualenv with the same Airflow; there
Airflow lists the provider with its version, the simulator's console script answers, and an example DAG
runs end to end against that simulator with ``airflow dags test``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import airflow_provider_ofs
from tests.packaging.locks import LOCK

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
UV = VENV / "bin" / "uv"
CONN_LINE = re.compile(r"^AIRFLOW_CONN_OFS_SCHEDULER_DEFAULT='(?P<json>.+)'$", re.MULTILINE)

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make dist`` into a folder of its own, with this test run's virtualenv and Airflow."""
    out = tmp_path_factory.mktemp("dist")
    made = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "dist",
            f"DIST_DIR={out}",
            f"VENV={VENV}",
            f"AIRFLOW_VERSION={importlib.metadata.version('apache-airflow')}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    assert "PASSED" in made.stdout, made.stdout  # twine check's verdict on each file
    return out


def only(folder: Path, pattern: str) -> Path:
    [found] = folder.glob(pattern)
    return found


def test_the_wheel_holds_the_package_its_data_files_and_py_typed_only(dist: Path) -> None:
    version = airflow_provider_ofs.__version__
    names = zipfile.ZipFile(only(dist, f"airflow_provider_ofs-{version}-py3-none-any.whl")).namelist()
    info = f"airflow_provider_ofs-{version}.dist-info/"

    assert {name.split("/")[0] for name in names} == {"airflow_provider_ofs", info.rstrip("/")}
    assert "airflow_provider_ofs/py.typed" in names
    assert "airflow_provider_ofs/simulator/demo_catalogue.json" in names
    assert "airflow_provider_ofs/facets/OFSBatchRunFacet.json" in names
    assert f"{info}entry_points.txt" in names
    assert f"{info}licenses/LICENSE" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_the_wheel_offers_openlineage_as_an_extra_only(dist: Path) -> None:
    version = airflow_provider_ofs.__version__
    wheel = zipfile.ZipFile(only(dist, f"airflow_provider_ofs-{version}-py3-none-any.whl"))
    metadata = wheel.read(f"airflow_provider_ofs-{version}.dist-info/METADATA").decode()
    requirements = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]

    assert "Provides-Extra: openlineage" in metadata
    assert "Requires-Dist: apache-airflow-providers-openlineage>=2.20; extra == 'openlineage'" in requirements
    assert not [line for line in requirements if "openlineage" in line and "extra ==" not in line]


def test_the_sdist_holds_the_tests_and_the_example_dags(dist: Path) -> None:
    version = airflow_provider_ofs.__version__
    with tarfile.open(only(dist, f"airflow_provider_ofs-{version}.tar.gz")) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}

    for expected in (
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "airflow_provider_ofs/py.typed",
        "tests/packaging/test_wheel.py",
        "example_dags/ofs_daily_data_load.py",
    ):
        assert expected in names
    assert not [name for name in names if name.startswith((".venv", ".git/", "dist/"))]


@pytest.fixture(scope="module")
def wheel_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtualenv with the built wheel and this run's Airflow under its lock, nothing installed editable."""
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    wheel = only(dist, "*.whl")
    airflow = f"apache-airflow=={importlib.metadata.version('apache-airflow')}"
    python = str(venv / "bin" / "python")
    for command in (
        [str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)],
        [str(UV), "pip", "install", "--quiet", "--python", python, "-c", str(LOCK), str(wheel), airflow],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
    return venv


def run_in(venv: Path, *command: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / command[0]), *command[1:]],
        env=env,
        cwd=venv,  # not the checkout: nothing may be imported from the source tree
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def airflow_env(wheel_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An Airflow home for the wheel's virtualenv, migrated, its DAGs folder the repository's examples."""
    home = tmp_path_factory.mktemp("wheel-airflow-home")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "PYTEST", "VIRTUAL_ENV")) and key != "PYTHONPATH"
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PYTHONWARNINGS": "ignore",
            "OFS_EXAMPLE_POLL_INTERVAL": "0.2",
        }
    )
    migrated = run_in(wheel_venv, "airflow", "db", "migrate", env=env)
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-2000:]
    return env


def test_the_package_imports_from_the_wheel_not_from_the_checkout(wheel_venv: Path, airflow_env) -> None:
    probe = "import airflow_provider_ofs, sys; print(airflow_provider_ofs.__file__, airflow_provider_ofs.__version__)"
    done = run_in(wheel_venv, "python", "-c", probe, env=airflow_env)

    path, version = done.stdout.split()
    assert Path(path).is_relative_to(wheel_venv)
    assert version == airflow_provider_ofs.__version__


def test_airflow_lists_the_provider_with_its_version(wheel_venv: Path, airflow_env) -> None:
    listed = run_in(wheel_venv, "airflow", "providers", "list", env=airflow_env)

    assert listed.returncode == 0, listed.stderr[-2000:]
    assert re.search(rf"airflow-provider-ofs\s*\|.*\|\s*{re.escape(airflow_provider_ofs.__version__)}", listed.stdout)


def test_the_simulator_console_script_answers_help(wheel_venv: Path, airflow_env) -> None:
    helped = run_in(wheel_venv, "ofs-esi-simulator", "--help", env=airflow_env)

    assert helped.returncode == 0, helped.stderr
    assert "--catalogue" in helped.stdout


@pytest.fixture
def wheel_simulator(wheel_venv: Path, airflow_env) -> Iterator[str]:
    """The wheel's own ``ofs-esi-simulator`` on a free loopback port; yields its connection JSON."""
    server = subprocess.Popen(
        [str(wheel_venv / "bin" / "ofs-esi-simulator"), "--port", "0", "--speed", "20", "--quiet"],
        env=airflow_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        printed = ""
        for line in server.stdout:
            printed += line
            found = CONN_LINE.search(printed)
            if found:
                yield found["json"]
                break
        else:
            pytest.fail(f"the simulator stopped before printing its connection: {printed}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_without_the_openlineage_extra_nothing_of_openlineage_is_installed(wheel_venv: Path, airflow_env) -> None:
    # So the example DAG's run below is the proof that without the extra nothing changes.
    probe = (
        "import importlib.util as u; print(u.find_spec('openlineage'), u.find_spec('airflow.providers.openlineage'))"
    )
    done = run_in(wheel_venv, "python", "-c", probe, env=airflow_env)

    assert done.stdout.split() == ["None", "None"], done.stdout + done.stderr[-2000:]


def test_an_example_dag_runs_from_the_wheel_against_its_simulator(
    wheel_venv: Path, airflow_env, wheel_simulator: str
) -> None:
    env = {**airflow_env, "AIRFLOW_CONN_OFS_SCHEDULER_DEFAULT": wheel_simulator}
    ran = run_in(wheel_venv, "airflow", "dags", "test", "ofs_daily_data_load", "2026-03-31", env=env, timeout=400)
    output = ran.stdout + ran.stderr

    assert ran.returncode == 0, output[-4000:]
    assert re.search(r"Triggered OFS batch OFS_DAILY_DATA_LOAD: run id \S+", output), output[-4000:]
    assert re.search(r"Triggered OFS batch OFS_FTP_PROCESS: run id \S+", output), output[-4000:]
    runs = run_in(wheel_venv, "airflow", "dags", "list-runs", "ofs_daily_data_load", "--output", "json", env=env)
    assert json.loads(runs.stdout[runs.stdout.index("[") :])[0]["state"] == "success", runs.stdout[-2000:]
