"""A small forward HTTP proxy on 127.0.0.1 for the proxy tests: it forwards absolute-URI requests, tunnels
CONNECT, logs each (``POST http://...``, ``CONNECT host:port``), and refuses any target off loopback."""

from __future__ import annotations

import base64
import http.client
import selectors
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

LOOPBACK = ("127.0.0.1", "localhost")
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "transfer-encoding",
    "te",
    "upgrade",
}


class ForwardProxy:
    """The proxy server; ``log`` lists what it forwarded or tunnelled, in order.

    ``credentials`` (``"user:password"``) makes it answer 407 to a request without them in
    ``Proxy-Authorization``; ``connect_status`` makes it refuse every CONNECT with that status.
    ``faults`` scripts its next requests (POST or CONNECT), one entry each, then it behaves again:

    - ``"drop_before"``: read the request, then close the client's connection without forwarding it;
    - ``"drop_after"``: forward the request (the service acts on it), then close without answering;
    - an HTTP status: answer it without forwarding (a CONNECT: refuse the tunnel with it);
    - ``"504_after"``: forward the request, then answer 504 (the proxy gave up waiting for the answer).
    """

    def __init__(self) -> None:
        self.log: list[str] = []
        self.credentials: str | None = None
        self.connect_status: int | None = None
        self.faults: list[int | str] = []
        self._faults_lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def refused(self) -> bool:
                """Answer 407 (or the CONNECT refusal) when the proxy is set to; whether it did."""
                expected = (
                    "Basic " + base64.b64encode(proxy.credentials.encode()).decode() if proxy.credentials else None
                )
                if expected is not None and self.headers.get("Proxy-Authorization") != expected:
                    self.send_response(407, "Proxy Authentication Required")
                    self.send_header("Proxy-Authenticate", 'Basic realm="test"')
                elif self.command == "CONNECT" and proxy.connect_status is not None:
                    self.send_response(proxy.connect_status)
                else:
                    return False
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                return True

            def answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True

            def drop(self) -> None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def do_CONNECT(self) -> None:
                host, _, port = self.path.rpartition(":")
                proxy.log.append(f"CONNECT {self.path}")
                if self.refused():
                    return
                fault = proxy.next_fault()
                if isinstance(fault, int):
                    return self.answer(fault)
                if fault is not None:  # a tunnel never opened: nothing reached the service
                    return self.drop()
                if host not in LOOPBACK:
                    self.send_error(403, "loopback targets only")
                    return
                upstream = socket.create_connection((host, int(port)), timeout=30)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.wfile.flush()
                _pump(self.connection, upstream)
                self.close_connection = True

            def do_POST(self) -> None:
                target = urlsplit(self.path)
                proxy.log.append(f"POST {self.path}")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.refused():
                    return
                if target.scheme != "http" or target.hostname not in LOOPBACK:
                    self.send_error(403, "absolute http:// URIs to loopback only")
                    return
                fault = proxy.next_fault()
                if fault == "drop_before":
                    return self.drop()
                if isinstance(fault, int):
                    return self.answer(fault)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=30)
                try:
                    upstream.request("POST", target.path or "/", body=body, headers=headers)
                    answer = upstream.getresponse()
                    raw = answer.read()
                    if fault == "drop_after":
                        return self.drop()
                    if fault == "504_after":
                        return self.answer(504)
                    self.send_response(answer.status, answer.reason)
                    for name, value in answer.getheaders():
                        if name.lower() not in HOP_BY_HOP | {"content-length"}:
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(raw)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(raw)
                finally:
                    upstream.close()
                self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()  # stop() waits one poll

    def next_fault(self) -> int | str | None:
        """The scripted fault for the request being handled, if any is left."""
        with self._faults_lock:
            return self.faults.pop(0) if self.faults else None

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _pump(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    with selectors.DefaultSelector() as selector, upstream:
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        while True:
            for key, _ in selector.select(timeout=30):
                try:
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
                except OSError:
                    return


@pytest.fixture
def forward_proxy() -> Iterator[ForwardProxy]:
    """A running ``ForwardProxy``, stopped at the end of the test."""
    proxy = ForwardProxy()
    yield proxy
    proxy.stop()
