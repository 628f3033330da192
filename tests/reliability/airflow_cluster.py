"""A real Airflow deployment for one test: scheduler and triggerer (and on 3.x api-server, dag-processor).

Everything binds to 127.0.0.1 on free ports, lives in one temporary AIRFLOW_HOME (SQLite; the
LocalExecutor on 3.x, the SequentialExecutor on 2.11, as ``airflow standalone`` runs each) and is
stopped on exit, failures included: each component is started in its own session, and stopping it
ends every process of its tree by pid. The distributed topology (``tests/reliability/topology.py``)
starts the same cluster on PostgreSQL with Celery workers, through ``sql_alchemy_conn``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

import psutil

from airflow_provider_ofs._compat import airflow_version

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
T = TypeVar("T")

#: Airflow components and their arguments; log servers are skipped so that nothing else listens.
#: Airflow 2.11 runs only the scheduler (which parses DAGs too) and the triggerer.
COMPONENTS: dict[str, list[str]] = {
    "api-server": ["api-server", "--host", "127.0.0.1", "--workers", "1"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
    "celery-worker": ["celery", "worker", "--skip-serve-logs"],
}
IS_AIRFLOW_2 = airflow_version() < (3, 0)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Component:
    """One running Airflow process (and, later, its children); output goes to ``log_path``."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    #: every process of the tree seen so far; psutil's objects tell a reused pid from the process itself
    known: dict[int, psutil.Process] = field(default_factory=dict)
    stopped: bool = False

    def tree(self) -> list[psutil.Process]:
        """The component's process and every descendant alive now (remembered, so none escapes the stop)."""
        processes: list[psutil.Process] = []
        with suppress(psutil.NoSuchProcess):
            root = psutil.Process(self.process.pid)
            processes = [root, *root.children(recursive=True)]
        self.known.update((p.pid, p) for p in processes)
        return processes

    def stop(self, sig: signal.Signals = signal.SIGTERM, grace: float = 15.0) -> None:
        """Send ``sig`` to every process of the tree; SIGKILL what is still alive after ``grace`` seconds."""
        self.stopped = True
        processes = self.tree()
        in_tree = {p.pid for p in processes}
        # Descendants that left the tree (re-parented) but still run; a pid now reused by another process
        # (pid_max is small on some machines) is not ours, and psutil's is_running() tells them apart.
        processes += [p for pid, p in self.known.items() if pid not in in_tree and p.is_running()]
        for process in processes:
            with suppress(psutil.NoSuchProcess):
                process.send_signal(sig)
        _, alive = psutil.wait_procs(processes, timeout=grace)
        for process in alive:
            with suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(alive, timeout=5)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.log_file.close()

    def tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class AirflowCluster:
    """Airflow components sharing one home; ``with AirflowCluster(...) as cluster`` stops them all on exit.

    :param home: an empty directory for AIRFLOW_HOME (the SQLite database is copied into it).
    :param database: a migrated ``airflow.db`` to start from (saves a migration); ``None`` with
        ``sql_alchemy_conn``.
    :param dags_folder: the DAGs folder of every component.
    :param env: more environment variables (e.g. the ``AIRFLOW_CONN_...`` of the simulator).
    :param sql_alchemy_conn: another metadata database (PostgreSQL), migrated by the caller; ``query``
        then reads it through ``connect``.
    :param connect: opens a DB-API connection to that database (for ``query``).
    """

    def __init__(
        self,
        home: Path,
        database: Path | None,
        dags_folder: Path,
        env: Mapping[str, str],
        *,
        sql_alchemy_conn: str | None = None,
        connect: Callable[[], Any] | None = None,
    ) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.db_path = home / "airflow.db"
        self._connect = connect
        #: errors a probe may meet while the database is busy or not migrated yet
        self.transient_errors: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
        #: logs of servers the cluster depends on (PostgreSQL, Redis), by name, for ``report``
        self.server_logs: dict[str, Path] = {}
        if sql_alchemy_conn is None:
            if database is None:
                raise ValueError("a SQLite cluster starts from a migrated database")
            self.db_path.write_bytes(database.read_bytes())
            sql_alchemy_conn = f"sqlite:///{self.db_path}"
        (home / "airflow.cfg").write_text("[core]\n")  # every setting below comes from the environment
        self.api_port = free_port()
        self.components: list[Component] = []
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST_"))}
        self.env = {
            **base,
            "AIRFLOW_HOME": str(home),
            # Airflow 2's executors start `airflow tasks run` by name: this interpreter's `airflow` first.
            "PATH": os.pathsep.join((str(Path(AIRFLOW).parent), base.get("PATH", ""))),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_alchemy_conn,
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            # Airflow 2 allows only the SequentialExecutor on SQLite (as its `standalone` runs it).
            "AIRFLOW__CORE__EXECUTOR": "SequentialExecutor" if IS_AIRFLOW_2 else "LocalExecutor",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            # Four Airflow processes share two cores: the default 5 s made a task's first call time out.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.api_port}",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONWARNINGS": "ignore",
            **env,
        }

    def start(self, name: str, *extra_args: str, env: Mapping[str, str] | None = None) -> Component:
        """Start one component (``COMPONENTS``, then ``extra_args``; ``env`` over the cluster's environment);
        several of a kind get numbered log files."""
        number = sum(1 for c in self.components if c.name == name) + 1
        log_path = self.home / f"{name}-{number}.out"
        log_file = log_path.open("wb")
        args = [*COMPONENTS[name], *(["--port", str(self.api_port)] if name == "api-server" else []), *extra_args]
        process = subprocess.Popen(
            [AIRFLOW, *args],
            env={**self.env, **(env or {})},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        component = Component(name, process, log_path, log_file)
        self.components.append(component)
        return component

    def start_airflow(self) -> None:
        """Start what this Airflow version needs to run DAGs: scheduler and triggerer, and on 3.x the rest."""
        if not IS_AIRFLOW_2:
            self.start("api-server")
            self.wait_for("the api-server to answer", self.api_answers, timeout=120)
            self.start("dag-processor")
        self.start("scheduler")
        self.start("triggerer")

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` against this cluster's home and database."""
        return subprocess.run(
            [AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def api_answers(self) -> bool:
        """Whether the api-server answers its health check (start the scheduler only then)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health", timeout=5) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def rest(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        applied: Callable[[], bool] | None = None,
    ) -> Any:
        """Call the api-server's REST API (the simple auth manager lets every caller in as admin) and read its JSON.

        On SQLite, Airflow's api-server now and then fails a write with 500 when it meets another writer (its log:
        ``Error with id …, statement: INSERT INTO log``, the action log of the call) and stores nothing. A write is
        sent again, at most twice, only when ``applied`` (a look at the database) shows its change is not there.
        """
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method=method,
        )
        for attempt in range(3):
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return json.load(answer)
            except urllib.error.HTTPError as error:
                text = f"{method} {path}: {error.code} {error.read()!r}"
                if error.code != 500 or applied is None or applied() or attempt == 2:
                    raise AssertionError(f"{text}\n{self.report()}") from error
                print(f"{text}; not applied, sent again")

    def kill(self, component: Component) -> None:
        """End a component abruptly (SIGKILL to its whole tree), as a crash or an OOM kill would."""
        component.stop(signal.SIGKILL, grace=5)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the Airflow database (read-only on SQLite); ``?`` placeholders on SQLite, ``%s`` otherwise."""
        if self._connect is not None:
            with closing(self._connect()) as db, closing(db.cursor()) as cursor:
                cursor.execute(sql, params)
                rows: list[tuple[Any, ...]] = cursor.fetchall()
                db.rollback()
                return rows
        with closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)) as db:
            return db.execute(sql, params).fetchall()

    def wait_for(self, what: str, probe: Callable[[], T | None], timeout: float) -> T:
        """Poll ``probe`` until it returns something truthy; on timeout fail with every component's log tail."""
        deadline = time.monotonic() + timeout
        while True:
            for component in self.components:
                component.tree()  # remember descendants while they live, so that the stop finds them all
                if not component.stopped and component.process.poll() is not None:
                    raise AssertionError(f"{component.name} exited while waiting for {what}\n{self.report()}")
            with suppress(*self.transient_errors):  # locked, or a table not migrated yet
                value = probe()
                if value:
                    return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{self.report()}")
            time.sleep(0.5)

    def saw_park(self, dag_id: str, task_id: str, map_index: int = -1) -> bool:
        """Whether the scheduler took the executor's report that a try of the task ended awaiting input (HITL).

        An answer given before that can lose the resumed try on Airflow 3.3.2: the scheduler queues the task again,
        then takes the asking try's stale success for a task "killed externally" ("finished with state success, but
        the task instance's state attribute is queued"; the family of apache/airflow#72716).
        """
        needle = f"TaskInstance Finished: dag_id={dag_id}, task_id={task_id},"
        return any(
            needle in line and f"map_index={map_index}," in line and "state=awaiting_input" in line
            for path in self.home.glob("scheduler-*.out")
            for line in path.read_text(errors="replace").splitlines()
        )

    def report(self) -> str:
        """The last lines of every component's (and server's) output, for failure messages."""
        servers = [
            f"----- {name} ({path})\n" + "\n".join(path.read_text(errors="replace").splitlines()[-20:])
            for name, path in self.server_logs.items()
            if path.exists()
        ]
        return "\n".join([*(f"----- {c.name} ({c.log_path.name})\n{c.tail()}" for c in self.components), *servers])

    def __enter__(self) -> AirflowCluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for component in reversed(self.components):
            if not component.stopped:
                component.stop()
