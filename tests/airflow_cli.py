"""Run a real Airflow CLI (``airflow dags test``) in a subprocess against an isolated home and SQLite DB."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@dataclass
class AirflowRun:
    """Outcome of one CLI call: exit code and everything it printed."""

    returncode: int
    output: str


class AirflowCLI:
    """An Airflow installation for tests: its own AIRFLOW_HOME, migrated SQLite DB and DAGs folder."""

    def __init__(self, home: Path, dags_folder: Path) -> None:
        self.home = home
        self.dags_folder = dags_folder
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONWARNINGS": "ignore",
        }
        self.env.pop("PYTEST_CURRENT_TEST", None)
        #: a copy of the database as migrated, before any test ran a DAG in it
        self.pristine_db = home / "pristine-airflow.db"

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 240) -> AirflowRun:
        """Run ``airflow <args>`` and return its exit code and combined output."""
        result = subprocess.run(
            [AIRFLOW, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return AirflowRun(result.returncode, result.stdout + result.stderr)

    def dags_test(self, dag_id: str, *, conf: str | None = None, env: dict[str, str] | None = None) -> AirflowRun:
        """``airflow dags test DAG_ID`` (runs deferred tasks' triggers inline)."""
        args = ["dags", "test", dag_id]
        if conf:
            args += ["--conf", conf]
        return self.run(*args, env=env)


def latest_run_rows(home: Path, dag_id: str, columns: str, table: str = "task_instance") -> list[tuple[Any, ...]]:
    """``SELECT columns FROM table`` for the newest run of ``dag_id``, read-only from the home's SQLite DB."""
    with closing(sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True)) as db:
        return db.execute(
            f"SELECT {columns} FROM {table} WHERE dag_id = ? AND run_id = "
            "(SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1)",
            (dag_id, dag_id),
        ).fetchall()


@pytest.fixture(scope="session")
def airflow_cli(tmp_path_factory: pytest.TempPathFactory) -> AirflowCLI:
    """A migrated Airflow home whose DAGs folder is ``tests/dags``; shared by the session."""
    home = tmp_path_factory.mktemp("airflow-home")
    cli = AirflowCLI(home, Path(__file__).parent / "dags")
    migrated = cli.run("db", "migrate")
    assert migrated.returncode == 0, migrated.output[-3000:]
    shutil.copyfile(home / "airflow.db", cli.pristine_db)
    return cli
