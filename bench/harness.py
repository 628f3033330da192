"""The bench's moving parts: bench servers in their own processes, and scenarios run in fresh processes."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.clients import HTTP_CONN_ID
from bench.status_server import STATS_PATH, connection_dict

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class BenchServer:
    """A running ``bench.status_server`` process, plain HTTP or TLS."""

    process: subprocess.Popen[str]
    base_url: str
    ca_file: str | None

    def stats(self) -> dict[str, int]:
        """The server's counters now."""
        context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        with urllib.request.urlopen(self.base_url + STATS_PATH, timeout=10, context=context) as answer:
            return dict(json.loads(answer.read()))

    def connection(self) -> dict[str, Any]:
        """The ``ofs_scheduler`` connection to this server."""
        return connection_dict(self.base_url, self.ca_file)


@contextmanager
def bench_server(certfile: str | None = None, keyfile: str | None = None) -> Iterator[BenchServer]:
    """Start a bench server on a free 127.0.0.1 port; stop it (this process only) on exit."""
    command = [sys.executable, "-m", "bench.status_server", "--port", "0"]
    if certfile and keyfile:
        command += ["--certfile", certfile, "--keyfile", keyfile]
    process = subprocess.Popen(command, cwd=ROOT, env=base_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if len(line) != 2 or line[0] != "listening":
            raise RuntimeError(f"the bench server did not start (said {line!r})")
        scheme = "https" if certfile else "http"
        yield BenchServer(process, f"{scheme}://127.0.0.1:{line[1]}", certfile)
    finally:
        process.terminate()
        process.wait(timeout=15)


def base_env(airflow_home: str | None = None) -> dict[str, str]:
    """Environment of every child process: this repo importable, an isolated Airflow home."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["AIRFLOW_HOME"] = airflow_home or env.get("AIRFLOW_HOME") or tempfile.mkdtemp(prefix="ofs-bench-home-")
    # Byte-code caches on, kept out of the tree: a deployment has them, and without them every child
    # process would compile Airflow from source (seconds of CPU that no triggerer or DAG parser pays).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "ofs-bench-pycache"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
    return env


def scenario_env(server: BenchServer, airflow_home: str) -> dict[str, str]:
    """Environment of a scenario: both Airflow connections point at ``server``."""
    env = base_env(airflow_home)
    connection = json.dumps(server.connection())
    env["BENCH_CONNECTION"] = connection
    env["AIRFLOW_CONN_OFS_SCHEDULER_DEFAULT"] = connection
    env[f"AIRFLOW_CONN_{HTTP_CONN_ID.upper()}"] = json.dumps({"conn_type": "http", "host": server.base_url})
    return env


@dataclass
class Scenario:
    """One measured scenario's result, with the server-side counts of its traffic."""

    client: str
    transport: str
    result: dict[str, Any]
    server: dict[str, int] = field(default_factory=dict)
    error: str = ""

    @property
    def polls(self) -> int:
        """Status polls the server answered for this scenario."""
        return self.server.get("status_polls", 0)

    @property
    def cpu_us_per_poll(self) -> float:
        """Client CPU (all threads) per status poll, in microseconds."""
        return float(self.result["cpu_s"]) / max(1, self.polls) * 1e6

    @property
    def growth_per_run_kb(self) -> float:
        """Peak RSS growth while watching, per watched run, in KiB."""
        return float(self.result["rss_peak"] - self.result["rss_before"]) / float(self.result["n"]) / 1024


def run_scenario(server: BenchServer, airflow_home: str, client: str, tag: str, **options: Any) -> Scenario:
    """Run ``python -m bench.measure`` for one client in a fresh process; add the server's counts.

    A scenario that fails is returned with its ``error`` (the last line of its traceback), so that one
    broken client shows up in the report instead of stopping the bench.
    """
    command = [sys.executable, "-m", "bench.measure", "--client", client, "--tag", tag]
    for name, value in options.items():
        if value is not None:
            command += [f"--{name}", str(value)]
    before = server.stats()
    completed = subprocess.run(
        command,
        cwd=ROOT,
        env=scenario_env(server, airflow_home),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("BENCH-RESULT ")]
    transport = "TLS" if server.ca_file else "HTTP"
    if completed.returncode != 0 or not lines:
        output = (completed.stderr or completed.stdout).strip().splitlines()
        return Scenario(client, transport, {}, error=output[-1] if output else f"exit code {completed.returncode}")
    after = server.stats()
    counts = {key: after.get(key, 0) - before.get(key, 0) for key in after}
    return Scenario(client, transport, json.loads(lines[-1].split(" ", 1)[1]), counts)


def median_scenario(scenarios: list[Scenario]) -> Scenario:
    """The run with the median CPU per poll (the lower middle of an even count); a failed run if any failed."""
    failed = [s for s in scenarios if s.error]
    if failed:
        return failed[0]
    return sorted(scenarios, key=lambda s: s.cpu_us_per_poll)[(len(scenarios) - 1) // 2]
