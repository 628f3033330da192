"""Airflow's distributed engine for one test: PostgreSQL, Redis, Celery workers and two triggerers.

This module owns starting and stopping it. ``Topology`` starts, on 127.0.0.1 and free ports:

- PostgreSQL (Debian's ``postgresql``) from ``initdb`` into a temporary directory, run as the
  ``postgres`` OS user when the tests run as root (PostgreSQL refuses root), its socket in that
  directory, durability off (a throw-away database);
- Redis (Debian's ``redis-server``) without persistence, the Celery broker;
- the Airflow cluster of ``airflow_cluster`` on that database with the CeleryExecutor: api-server,
  dag-processor, scheduler, ``triggerers`` triggerers and ``workers`` Celery workers (distinct
  hostnames, no log server).

Everything is stopped on exit, failures included; every process's log (the servers' too) stays in the
Airflow home and goes into ``report()``. ``make test-topology`` installs what this needs (the
``topology`` extra; the servers with apt-get when missing) and sets ``OFS_TOPOLOGY_REQUIRED=1``.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, closing, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import IO, Any

import psutil

from tests.reliability.airflow_cluster import AirflowCluster, Component, free_port

#: Set by ``make test-topology``: missing servers or drivers fail the test instead of skipping it.
REQUIRED_ENV_VAR = "OFS_TOPOLOGY_REQUIRED"
DB_USER = DB_NAME = "airflow"


def postgres_bin_dir() -> Path | None:
    """Debian's PostgreSQL programs (the newest major version installed), or ``None``."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for candidate in reversed(found):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)


def missing_parts() -> list[str]:
    """What this machine lacks to start the topology (empty when it can)."""
    missing = []
    if postgres_bin_dir() is None:
        missing.append("PostgreSQL (Debian package postgresql)")
    if redis_server_binary() is None:
        missing.append("Redis (Debian package redis-server)")
    for module, extra in (
        ("psycopg", "psycopg"),
        ("asyncpg", "asyncpg"),
        ("airflow.providers.celery", "the celery provider"),
    ):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"{extra} (pip extra 'topology')")
    return missing


def _wait_until(what: str, probe: Any, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{tail}")
        time.sleep(0.3)


class PostgresServer:
    """A throw-away PostgreSQL cluster on 127.0.0.1:``port`` with a trusted ``airflow`` superuser."""

    def __init__(self, log_path: Path) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin_dir = bin_dir
        self.port = free_port()
        self.log_path = log_path
        # Not under pytest's tmp_path: the postgres user cannot enter root's 0700 directories.
        self.root = Path(tempfile.mkdtemp(prefix="ofs-topology-pg-"))
        self.data = self.root / "data"
        self.server_log = self.root / "postgresql.log"
        self.run_as = "postgres" if os.geteuid() == 0 else None
        self.started = False

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={DB_USER} dbname={DB_NAME}"

    @property
    def sql_alchemy_conn(self) -> str:
        return f"postgresql+psycopg://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    def _run(self, program: str, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.root)
        with self.log_path.open("a") as log:
            log.write(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}\n")
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({result.returncode}): {result.stdout[-2000:]}{result.stderr[-2000:]}"
            )

    def start(self) -> PostgresServer:
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", DB_USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c max_connections=300 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.server_log), "-o", options, "-w", "-t", "90", "start")
        self.started = True
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, DB_NAME)
        return self

    def connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.dsn, connect_timeout=10)

    def stop(self) -> None:
        """Stop the server (fast shutdown; SIGKILL to the postmaster if that fails) and remove its files."""
        if self.started:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop", timeout=60)
            except (RuntimeError, subprocess.TimeoutExpired):
                with suppress(OSError, ValueError, IndexError):
                    pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
                    os.kill(pid, signal.SIGKILL)
            self.started = False
        if self.server_log.exists():
            with self.log_path.open("a") as log:
                log.write(self.server_log.read_text(errors="replace"))
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    """Redis on 127.0.0.1:``port``, nothing saved to disk; its output goes to ``log_path``."""

    def __init__(self, log_path: Path, directory: Path) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("Redis is not installed (apt-get install redis-server)")
        self.binary = binary
        self.port = free_port()
        self.log_path = log_path
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def answers(self) -> bool:
        try:
            with closing(socket.create_connection(("127.0.0.1", self.port), timeout=2)) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [self.binary, *args, "--dir", str(self.directory), "--daemonize", "no"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_until("Redis to answer PING", self.answers, timeout=30, log=self.log_path)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._log is not None:
            self._log.close()


@dataclass
class TreeUsage:
    """CPU seconds (user + system) and resident memory of a component's process tree, sampled over time."""

    cpu_seconds: float = 0.0
    rss_bytes: int = 0
    peak_rss_bytes: int = 0
    samples: list[tuple[float, float, int]] = field(default_factory=list)  # (time, cpu, rss)


def tree_usage(component: Component) -> tuple[float, int] | None:
    """CPU seconds and RSS of a component's live process tree now, or ``None`` when it is gone."""
    cpu, rss = 0.0, 0
    processes = component.tree()
    if not processes:
        return None
    for process in processes:
        with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            times = process.cpu_times()
            cpu += times.user + times.system
            rss += process.memory_info().rss
    return cpu, rss


class UsageSampler:
    """Samples the CPU and RSS of some components every ``interval`` seconds from a background thread.

    :param counter: optional, returns a count per component name (e.g. triggers held); the maximum of
        each is kept in ``max_counts``.
    """

    def __init__(
        self,
        components: Mapping[str, Component],
        interval: float = 1.0,
        counter: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        self.components = dict(components)
        self.interval = interval
        self.counter = counter
        self.max_counts: dict[str, int] = {}
        self.usage = {name: TreeUsage() for name in self.components}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="usage-sampler", daemon=True)

    def sample(self) -> None:
        now = time.time()
        for name, component in self.components.items():
            if component.stopped:
                continue
            measured = tree_usage(component)
            if measured is None:
                continue
            usage = self.usage[name]
            usage.cpu_seconds, usage.rss_bytes = measured
            usage.peak_rss_bytes = max(usage.peak_rss_bytes, measured[1])
            usage.samples.append((now, *measured))
        if self.counter is not None:
            with suppress(Exception):  # a busy database: the next sample counts
                for name, count in self.counter().items():
                    self.max_counts[name] = max(self.max_counts.get(name, 0), count)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> UsageSampler:
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def load_dag_file(path: Path) -> ModuleType:
    """The module of a topology test's DAG file, read as the test's own copy (its catalogue, its names)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def topology_env(postgres: PostgresServer, redis: RedisServer, env: Mapping[str, str]) -> dict[str, str]:
    """Airflow settings of the distributed topology, sized for two cores; ``env`` adds to or overrides them."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": redis.url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg://{DB_USER}@127.0.0.1:{postgres.port}/{DB_NAME}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        # Executor slots = the workers' slots: nothing waits long in the broker, so the queued timeout
        # below only catches tasks whose worker died before it started them.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "3",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "5",
        # A dead triggerer's triggers move after this many seconds without its heartbeat.
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "20",
        # A task whose worker died is failed (then retried) after this many seconds without a heartbeat.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "45",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "120",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "60",
        **env,
    }


@dataclass(frozen=True)
class Role:
    """How one triggerer or Celery worker of a ``Topology`` starts: more arguments, more environment."""

    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


class Topology:
    """PostgreSQL, Redis and an Airflow cluster with Celery workers; ``with Topology(...) as topology``.

    :param home: an empty directory: AIRFLOW_HOME, every log, Redis's working directory.
    :param dags_folder: the DAGs folder of every Airflow component.
    :param env: more environment variables (the simulator's connection, settings to override).
    :param triggerers: how many triggerers to start, or the ``Role`` of each.
    :param workers: how many Celery workers to start (``worker-N@<host>``), or the ``Role`` of each.
    :param env_elsewhere: more environment for the api-server, dag-processor and scheduler.
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        env: Mapping[str, str],
        *,
        triggerers: int | Sequence[Role] = 2,
        workers: int | Sequence[Role] = 2,
        env_elsewhere: Mapping[str, str] | None = None,
    ) -> None:
        self.home = home
        self.dags_folder = dags_folder
        self.extra_env = dict(env)
        self.triggerer_roles = [Role()] * triggerers if isinstance(triggerers, int) else list(triggerers)
        self.worker_roles = [Role()] * workers if isinstance(workers, int) else list(workers)
        self.env_elsewhere = dict(env_elsewhere or {})
        self._stack = ExitStack()
        self.triggerers: list[Component] = []
        self.workers: list[Component] = []
        self.workers_started = 0
        #: job ids of the triggerers, in the order of ``triggerers``
        self.triggerer_job_ids: list[int] = []

    def __enter__(self) -> Topology:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.postgres = PostgresServer(self.home / "postgresql.out")
        self._stack.callback(self.postgres.stop)
        self.postgres.start()
        self.redis = RedisServer(self.home / "redis.out", self.home / "redis")
        self._stack.callback(self.redis.stop)
        self.redis.start()

        import psycopg

        self.cluster = AirflowCluster(
            self.home,
            None,
            self.dags_folder,
            topology_env(self.postgres, self.redis, self.extra_env),
            sql_alchemy_conn=self.postgres.sql_alchemy_conn,
            connect=self.postgres.connect,
        )
        self.cluster.transient_errors = (psycopg.Error,)
        self.cluster.server_logs = {"postgresql": self.postgres.log_path, "redis": self.redis.log_path}
        self._stack.push(self.cluster)  # its __exit__ stops every component, before the servers stop

        migrated = self.cluster.cli("db", "migrate", timeout=600)
        (self.home / "db-migrate.out").write_text(migrated.stdout + migrated.stderr)
        assert migrated.returncode == 0, (migrated.stdout + migrated.stderr)[-3000:]

        self.cluster.start("api-server", env=self.env_elsewhere)
        self.cluster.wait_for("the api-server to answer", self.cluster.api_answers, timeout=180)
        self.cluster.start("dag-processor", env=self.env_elsewhere)
        self.cluster.start("scheduler", env=self.env_elsewhere)
        for role in self.triggerer_roles:  # one after the other: each job id belongs to one process
            self.add_triggerer(role)
        for role in self.worker_roles:
            self.workers.append(self._start_worker(role))
        for worker in self.workers:
            self.wait_until_ready(worker)

    def add_triggerer(self, role: Role) -> Component:
        """Start a triggerer, wait for its job, and append both to ``triggerers`` and ``triggerer_job_ids``."""
        triggerer = self.cluster.start("triggerer", *role.args, env=role.env)
        self.triggerers.append(triggerer)
        known = set(self.triggerer_job_ids)
        new = self.cluster.wait_for(
            f"{triggerer.log_path.stem}'s job", lambda: set(self.running_triggerer_jobs()) - known, 180
        )
        self.triggerer_job_ids.append(max(new))
        return triggerer

    def _start_worker(self, role: Role) -> Component:
        self.workers_started += 1
        hostname = f"worker-{self.workers_started}@%h"
        return self.cluster.start("celery-worker", "--celery-hostname", hostname, *role.args, env=role.env)

    def wait_until_ready(self, worker: Component) -> None:
        self.cluster.wait_for(
            f"{worker.log_path.name} to be ready",
            lambda: " ready." in worker.log_path.read_text(errors="replace"),
            180,
        )

    def replace_worker(self, number: int) -> Component:
        """Start a new worker (``worker-N``, of the same role) in place of ``workers[number]``, which died."""
        self.workers[number] = worker = self._start_worker(self.worker_roles[number])
        self.wait_until_ready(worker)
        return worker

    def running_triggerer_jobs(self) -> list[int]:
        rows = self.cluster.query(
            "SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running' ORDER BY id"
        )
        return [row[0] for row in rows]

    def report(self) -> str:
        return self.cluster.report()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()
