"""The demo's own Airflow: a git-ignored home under ``.demo/``, its SQLite database and its command line."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO / ".demo"
EXAMPLE_DAGS = REPO / "example_dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@dataclass(frozen=True)
class TaskOutcome:
    """One Airflow task of a DAG run, as the metadata database records it."""

    task_id: str
    state: str
    try_number: int


@dataclass(frozen=True)
class DagRunOutcome:
    """One DAG run and its tasks, as the metadata database records them."""

    dag_id: str
    run_id: str
    state: str
    tasks: list[TaskOutcome] = field(default_factory=list)


class DemoAirflow:
    """An Airflow installation that lives in ``.demo/airflow`` and reads its DAGs from ``example_dags/``.

    :param home: the ``AIRFLOW_HOME`` (created on first use, with a ``.gitignore`` that hides ``.demo/``).
    :param dags_folder: the DAGs folder.
    """

    def __init__(self, home: Path = DEMO_DIR / "airflow", dags_folder: Path = EXAMPLE_DAGS) -> None:
        self.home = home
        self.dags_folder = dags_folder

    @property
    def database(self) -> Path:
        return self.home / "airflow.db"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of every Airflow command of the demo."""
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONWARNINGS": "ignore",
            # `airflow dags test` runs each trigger inline, with no scheduler whose late report the settle time
            # guards against (README "Troubleshooting"): the demo's deferred tasks resume without it.
            "AIRFLOW__OFS__DEFERRAL_SETTLE_SECONDS": "0",
        }
        env.update(extra or {})
        return env

    @property
    def _migrated_marker(self) -> Path:
        return self.home / f".migrated-airflow-{version('apache-airflow')}"

    @property
    def is_migrated(self) -> bool:
        """Whether this Airflow version already migrated the database."""
        return self._migrated_marker.exists() and self.database.exists()

    def migrate(self) -> None:
        """Create the home (git-ignored) and run ``airflow db migrate``."""
        self.home.mkdir(parents=True, exist_ok=True)
        ignore = self.home.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# written by the demo: nothing here belongs in git\n*\n", encoding="utf-8")
        result = self.run("db", "migrate", log=self.home.parent / "db-migrate.log")
        if result.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed (exit {result.returncode}); see {result.args[-1]}")
        self._migrated_marker.touch()

    def run(self, *args: str, log: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run ``airflow <args>``, its output going to ``log``; the last argument of ``.args`` is the log path."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            completed = subprocess.run(  # noqa: S603 - our own Airflow binary, fixed arguments
                [AIRFLOW, *args], env=self.env(env), stdout=out, stderr=subprocess.STDOUT, check=False
            )
        return subprocess.CompletedProcess([*completed.args, str(log)], completed.returncode)

    def start(self, *args: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start ``airflow <args>`` in the background, its output going to ``log``."""
        log.parent.mkdir(parents=True, exist_ok=True)
        out = log.open("wb")
        try:
            return subprocess.Popen(  # noqa: S603 - our own Airflow binary, fixed arguments
                [AIRFLOW, *args], env=self.env(env), stdout=out, stderr=subprocess.STDOUT
            )
        finally:
            out.close()  # the child holds its own copy

    def latest_dag_run(self, dag_id: str) -> DagRunOutcome | None:
        """The newest run of ``dag_id`` and its task states, read from the SQLite database."""
        if not self.database.exists():
            return None
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            row = db.execute(
                "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
            ).fetchone()
            if row is None:
                return None
            tasks = db.execute(
                "SELECT task_id, COALESCE(state, 'none'), try_number FROM task_instance "
                "WHERE dag_id = ? AND run_id = ? ORDER BY start_date IS NULL, start_date, task_id",
                (dag_id, row[0]),
            ).fetchall()
        return DagRunOutcome(dag_id, row[0], row[1] or "none", [TaskOutcome(*task) for task in tasks])
