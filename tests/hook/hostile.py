"""Small misbehaving HTTP servers on 127.0.0.1 for the hostile-server tests (docs/hostile-servers.md)."""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

RETRY_WAIT = 0.02

#: Writes the whole answer (status line included) for one POST.
Respond = Callable[[BaseHTTPRequestHandler], None]

RUN_ID = "HOSTILE_RUN_1"
ONGOING = {"statusCode": "0", "status": "success", "batchRunId": RUN_ID, "batchStatusCode": "2"}
TRIGGERED = {"statusCode": "0", "status": "success", "batchRunId": RUN_ID}


class HostileServer:
    """An HTTP host on 127.0.0.1 that answers every POST with ``respond`` and records what reached it."""

    def __init__(self, respond: Respond) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []  # path, headers, body
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.received.append((self.path, dict(self.headers), body))
                self.close_connection = True
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
                    respond(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()  # stop() waits one poll

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def esi_connection(self, **extra: Any) -> dict[str, Any]:
        """A connection whose ESI host is this server, with a pre-issued token (no IAM)."""
        base = {"tenant_id": "T", "service_id": "S", "remote_user": "U", "access_token": "pre-issued-7f3a"}
        return {"conn_type": "ofs_scheduler", "host": self.url, "extra": {**base, "retry_wait": RETRY_WAIT, **extra}}

    def iam_connection(self, esi_host: str = "http://127.0.0.1:9", **extra: Any) -> dict[str, Any]:
        """A connection whose IAM token endpoint is this server (the password grant)."""
        base = {
            "iam_url": f"{self.url}/oauth2/v1/token",
            "client_id": "client-7f3a",
            "client_secret": "CLIENT-SECRET-7f3a",
            "tenant_id": "T",
            "service_id": "S",
        }
        return {
            "conn_type": "ofs_scheduler",
            "host": esi_host,
            "login": "batch_user",
            "password": "USER-PASSWORD-7f3a",
            "extra": {**base, "retry_wait": RETRY_WAIT, **extra},
        }


@pytest.fixture
def hostile() -> Iterator[Callable[[Respond], HostileServer]]:
    """``hostile(respond)``: a running ``HostileServer``, stopped at the end of the test."""
    started: list[HostileServer] = []

    def start(respond: Respond) -> HostileServer:
        started.append(HostileServer(respond))
        return started[-1]

    yield start
    for server in started:
        server.stop()


# ------------------------------------------------------------------------------------------------ answers


def head(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()


def json_answer(body: dict[str, Any], status: int = 200) -> Respond:
    raw = json.dumps(body).encode()

    def respond(handler: BaseHTTPRequestHandler) -> None:
        head(handler, status, {"Content-Type": "application/json", "Content-Length": str(len(raw))})
        handler.wfile.write(raw)

    return respond


def redirect(status: int, location: str) -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        head(handler, status, {"Location": location, "Content-Length": "0"})

    return respond


def trickle(body: dict[str, Any], every: float) -> Respond:
    """The status line and headers at once, then the body one byte per ``every`` seconds."""
    raw = json.dumps(body).encode()

    def respond(handler: BaseHTTPRequestHandler) -> None:
        head(handler, 200, {"Content-Type": "application/json", "Content-Length": str(len(raw))})
        for byte in raw:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(every)

    return respond


#: What ``flood`` sends at most: 16 times the provider's limit, and little enough to do no harm without it.
FLOOD_BYTES = 64 * 1024 * 1024


def flood(content_length: str | None) -> Respond:
    """A 200 whose body goes on for ``FLOOD_BYTES`` (with the given Content-Length, or none: read until close)."""
    chunk = b" " * 65536

    def respond(handler: BaseHTTPRequestHandler) -> None:
        headers = {"Content-Type": "application/json"}
        if content_length is not None:
            headers["Content-Length"] = content_length
        head(handler, 200, headers)
        handler.wfile.write(b'{"statusCode": "0", "padding": "')
        for _ in range(FLOOD_BYTES // len(chunk)):
            handler.wfile.write(chunk)

    return respond


def short_body(content_length: str, body: bytes) -> Respond:
    """A Content-Length that promises more than the body the server sends before closing."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        head(handler, 200, {"Content-Type": "application/json", "Content-Length": content_length})
        handler.wfile.write(body)

    return respond


def gzip_bomb(size: int) -> Respond:
    """A small gzip body that inflates to ``size`` bytes."""
    raw = gzip.compress(b'{"statusCode": "0", "padding": "' + b" " * size + b'"}')

    def respond(handler: BaseHTTPRequestHandler) -> None:
        head(
            handler,
            200,
            {"Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": str(len(raw))},
        )
        handler.wfile.write(raw)

    return respond


def bad_gzip() -> Respond:
    """A body that says it is gzip and is not."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        head(handler, 200, {"Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": "12"})
        handler.wfile.write(b"not gzip at all"[:12])

    return respond
