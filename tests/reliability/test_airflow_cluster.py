"""The test cluster's REST helper sends a write again only when its change is not in the database.

Airflow's api-server on SQLite now and then answers a write with 500 and stores nothing (two writers met); the
real-scheduler tests post asset events and Required Actions answers through ``AirflowCluster.rest``. A stub
api-server over loopback answers 500 as scripted; ``applied`` stands for the look at the database.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.reliability.airflow_cluster import AirflowCluster


class StubApiServer(ThreadingHTTPServer):
    """Answers each POST with the next scripted status (then 200), and counts the POSTs it received."""

    def __init__(self, statuses: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.statuses = statuses
        self.posts = 0


class StubHandler(BaseHTTPRequestHandler):
    server: StubApiServer

    def do_POST(self) -> None:
        self.server.posts += 1
        self.rfile.read(int(self.headers["Content-Length"]))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        body = json.dumps({"detail": "Internal Server Error"} if status >= 400 else {"id": 7}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


Stubbed = Callable[[list[int]], tuple[AirflowCluster, StubApiServer]]


@pytest.fixture
def cluster_with(tmp_path: Path) -> Iterator[Stubbed]:
    """Makes a cluster (never started) whose api-server is a stub answering the given statuses."""
    servers: list[StubApiServer] = []

    def make(statuses: list[int]) -> tuple[AirflowCluster, StubApiServer]:
        server = StubApiServer(statuses)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        cluster = AirflowCluster(tmp_path / "home", None, tmp_path, {}, sql_alchemy_conn="sqlite://")
        cluster.api_port = server.server_address[1]
        return cluster, server

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_write_answered_500_and_not_stored_is_sent_again(cluster_with: Stubbed) -> None:
    cluster, server = cluster_with([500])
    assert cluster.rest("POST", "/api/v2/assets/events", {"asset_id": 1}, applied=lambda: False) == {"id": 7}
    assert server.posts == 2


def test_a_write_answered_500_but_stored_is_not_sent_again(cluster_with: Stubbed) -> None:
    cluster, server = cluster_with([500])
    with pytest.raises(AssertionError, match="POST /api/v2/assets/events: 500"):
        cluster.rest("POST", "/api/v2/assets/events", {"asset_id": 1}, applied=lambda: True)
    assert server.posts == 1


def test_a_write_is_sent_at_most_three_times(cluster_with: Stubbed) -> None:
    cluster, server = cluster_with([500, 500, 500, 500])
    with pytest.raises(AssertionError, match="500"):
        cluster.rest("POST", "/api/v2/assets/events", {"asset_id": 1}, applied=lambda: False)
    assert server.posts == 3


@pytest.mark.parametrize("status", [400, 404, 409, 502])
def test_other_failures_are_not_sent_again(cluster_with: Stubbed, status: int) -> None:
    cluster, server = cluster_with([status])
    with pytest.raises(AssertionError, match=f": {status} "):
        cluster.rest("POST", "/api/v2/assets/events", {"asset_id": 1}, applied=lambda: False)
    assert server.posts == 1
