"""Fixtures for hook tests: a fast simulator, env-var connections to it, and log capture for every logger."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import pytest

from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.protocol import iam
from airflow_provider_ofs.states import RunStatus
from tests.hook.forward_proxy import forward_proxy  # noqa: F401  (fixture)
from tests.hook.hostile import hostile  # noqa: F401  (fixture)

T = TypeVar("T")

DEFAULT_CONN_ID = "ofs_scheduler_default"
RETRY_WAIT = 0.02

# Short tasks finish within a few polls; LONG stays ongoing for the whole test.
CATALOGUE: dict[str, Any] = {
    "batches": {
        "QUICK": {
            "tasks": [
                {"code": "Q1", "seconds": 0.05, "outcome": "success"},
                {"code": "Q2", "seconds": 0.05, "outcome": "success"},
            ]
        },
        "FAILS_ONCE": {
            "tasks": [
                {"code": "F1", "seconds": 0.05, "outcome": "success"},
                {"code": "F2", "seconds": 0.05, "outcome": "fail_once"},
            ]
        },
        "LONG": {"tasks": [{"code": "L1", "seconds": 100_000, "outcome": "success"}]},
    },
    "groups": {"GRP": {"batches": ["QUICK", "FAILS_ONCE"]}},
}


def conn_env_var(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


#: The OFS editions' ``dynamicParamList`` forms (ESI-NOTES 15); ``both_editions`` runs a test against each.
EDITIONS = ("string", "object")
both_editions = pytest.mark.parametrize("sim", EDITIONS, indirect=True)


@pytest.fixture
def sim(request, ofs_simulator_factory):
    """A strict simulator with the test catalogue (speed 50), of the edition a ``both_editions`` test names.

    ``connect`` gives the connection the same ``dynamic_params_format`` (it is in the simulator's connection).
    """
    return ofs_simulator_factory(CATALOGUE, params_format=getattr(request, "param", EDITIONS[0]), strict=True)


@pytest.fixture
def connect(monkeypatch) -> Callable[..., OFSSchedulerHook]:
    """``connect(simulator, conn_id=..., **extra)``: an env-var connection to the simulator and a hook on it."""

    def connect(simulator: Any, conn_id: str = DEFAULT_CONN_ID, **extra: Any) -> OFSSchedulerHook:
        extra.setdefault("retry_wait", RETRY_WAIT)
        monkeypatch.setenv(conn_env_var(conn_id), simulator.connection_json(**extra))
        return OFSSchedulerHook(conn_id)

    return connect


@pytest.fixture
def connect_dict(monkeypatch) -> Callable[[dict[str, Any], str], OFSSchedulerHook]:
    """A hook on a connection given as the dict form of an Airflow connection."""

    def connect_dict(conn: dict[str, Any], conn_id: str = DEFAULT_CONN_ID) -> OFSSchedulerHook:
        monkeypatch.setenv(conn_env_var(conn_id), json.dumps(conn))
        return OFSSchedulerHook(conn_id)

    return connect_dict


class ScriptedESI:
    """An ESI host on 127.0.0.1 that answers each POST with the next scripted JSON body (HTTP 200)."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.requests = 0
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                script.requests += 1
                body = json.dumps(script.answers.pop(0)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def connection(self) -> dict[str, Any]:
        """An ``ofs_scheduler`` connection to this host with a pre-issued token (no IAM needed)."""
        extra = {"tenant_id": "T", "service_id": "S", "remote_user": "U", "access_token": "pre-issued"}
        return {"conn_type": "ofs_scheduler", "host": self.base_url, "extra": {**extra, "retry_wait": RETRY_WAIT}}


@pytest.fixture
def scripted_esi() -> Iterator[Callable[[list[dict[str, Any]]], ScriptedESI]]:
    """``scripted_esi(answers)``: a running ``ScriptedESI``, stopped at the end of the test."""
    started: list[ScriptedESI] = []

    def start(answers: list[dict[str, Any]]) -> ScriptedESI:
        host = ScriptedESI(answers)
        threading.Thread(target=host.server.serve_forever, args=(0.05,), daemon=True).start()
        started.append(host)
        return host

    yield start
    for host in started:
        host.server.shutdown()
        host.server.server_close()


def closed_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_finished(hook: OFSSchedulerHook, run_id: str, timeout: float = 15.0) -> RunStatus:
    """Poll until the run is in a terminal state (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        status = hook.get_status(run_id)
        if status.state.is_terminal or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def run_on_loop(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a fresh event loop, closing the loop's shared aiohttp sessions at the end."""
    from airflow_provider_ofs.hooks.async_client import close_shared_sessions

    async def main() -> T:
        try:
            return await make()
        finally:
            await close_shared_sessions()

    return asyncio.run(main())


class LogCapture:
    """Everything logged during a test: structlog events (Airflow's hook loggers) and stdlib records."""

    def __init__(self, structlog_events: list[dict[str, Any]], caplog: pytest.LogCaptureFixture) -> None:
        self._events = structlog_events
        self._caplog = caplog

    def entries(self) -> list[tuple[str, str]]:
        """(level, message) of every log line, structlog first then stdlib."""
        lines = [(str(event.get("log_level", "")), _render(event)) for event in self._events]
        for record in self._caplog.records:
            text = record.getMessage()
            if record.exc_text:
                text += "\n" + record.exc_text
            lines.append((record.levelname.lower(), text))
        return lines

    def messages(self, level: str | None = None) -> list[str]:
        return [text for lvl, text in self.entries() if level is None or lvl == level]

    def text(self) -> str:
        return "\n".join(self.messages())


def _render(event: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" if key != "event" else str(value) for key, value in event.items())


@pytest.fixture
def logs(caplog, monkeypatch) -> Iterator[LogCapture]:
    """Capture every log line of the test at DEBUG, whichever logging system emitted it."""
    caplog.set_level(logging.DEBUG)
    try:  # Airflow 3 hooks log through structlog, filtered per logger name before any processor runs
        from airflow._shared.logging import structlog as airflow_structlog

        monkeypatch.setitem(airflow_structlog.PER_LOGGER_LEVELS, "", logging.DEBUG)
    except (ImportError, AttributeError):  # Airflow 2.11: hooks log through stdlib logging (caplog)
        pass
    try:
        from structlog.testing import capture_logs
    except ImportError:  # Airflow 2.11 has no structlog: everything went to caplog
        yield LogCapture([], caplog)
        return
    with capture_logs() as events:
        yield LogCapture(events, caplog)


class ShiftedClock:
    """Stands in for the ``time`` module of ``protocol.iam`` (the token clock): real time plus a movable offset."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def client_clock(monkeypatch) -> ShiftedClock:
    """Move the provider's token clock (not the simulator's) forward, to reach a token's refresh time."""
    clock = ShiftedClock()
    monkeypatch.setattr(iam, "time", clock)
    return clock
