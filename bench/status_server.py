"""A minimal ESI status + IAM token server for the benchmarks: every run ends after exactly K polls.

The simulator ends a run after a wall-clock duration, so a slow client would make fewer polls than a
fast one. Here the run id says how many status polls the run lasts (``BENCH-K<polls>-<n>``): the K-th
poll answers "successful", every earlier one "ongoing". Every client therefore makes exactly the same
number of polls, and the per-poll numbers compare like with like. Answers have the simulator's shape;
an ongoing run answers the same bytes every time, as a real run does between state changes, except
for runs marked ``C`` (``BENCH-K<polls>C-<n>``), whose every answer differs (the poll number is in it).

It checks what a real ESI checks first (a bearer token it issued, the identity headers) and counts
status polls, token requests, 401 answers and distinct client connections (``GET /__bench__/stats``).
Run it in its own process (``python -m bench.status_server``) so its CPU is not the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import signal
import ssl
from collections import Counter
from typing import Any

from aiohttp import web

TOKEN_PATH = "/oauth2/v1/token"
STATUS_PATH = "/SchedulerService/rest-api/v1/external/status"
STATS_PATH = "/__bench__/stats"
REQUIRED_HEADERS = ("ofs_tenant_id", "ofs_service_id", "ofs_workspace_id", "ofs_remote_user", "locale")
RUN_ID = re.compile(r"^BENCH-K(\d+)(C?)-")
TASKS = ("T1_LOAD", "T2_CALC", "T3_REPORT")
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"
USERNAME, PASSWORD = "bench_user", "bench-password"
TENANT_ID, SERVICE_ID = "BENCH_TENANT", "BENCH_SERVICE"


def run_id(polls: int, scenario: str, index: int, changing: bool = False) -> str:
    """A run id that this server ends after ``polls`` status polls (``changing``: every answer differs)."""
    return f"BENCH-K{polls}{'C' if changing else ''}-{scenario}-{index}"


def status_answer(batch_run_id: str, finished: bool, details: str = "Success") -> bytes:
    """A status answer shaped like the simulator's (and the guide's): envelope, run state, task list."""
    code, text = ("0", "Successful") if finished else ("2", "Ongoing")
    tasks = [
        {"taskCode": task, "taskStatus": "Successful" if finished or i == 0 else "Not Started",
         "statusCode": "0" if finished or i == 0 else "1"}
        for i, task in enumerate(TASKS)
    ]  # fmt: skip
    body = {
        "status": "success",
        "severity": "info",
        "statusCode": "0",
        "summary": "Batch status fetched successfully",
        "details": details,
        "batchRunId": batch_run_id,
        "batchStatusCode": code,
        "batchStatus": text,
        "taskStatusList": tasks,
        "batchList": [],
    }
    return json.dumps(body).encode()


class BenchServer:
    """The handlers and counters of the bench server."""

    def __init__(self, token_lifetime: int = 3600) -> None:
        self.token_lifetime = token_lifetime
        self.tokens: set[str] = set()
        self.polls: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self.peers: set[tuple[Any, ...]] = set()

    def _count_peer(self, request: web.Request) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer is not None and peer not in self.peers:
            self.peers.add(peer)
            self.stats["connections"] += 1

    async def token(self, request: web.Request) -> web.Response:
        """IAM password/refresh grant: Basic client auth, form body; answers a fresh opaque token."""
        self._count_peer(request)
        self.stats["token_requests"] += 1
        form = await request.post()
        expected = "Basic " + _basic(CLIENT_ID, CLIENT_SECRET)
        grant = form.get("grant_type")
        if request.headers.get("Authorization") != expected or grant not in ("password", "refresh_token"):
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_urlsafe(32)
        self.tokens.add(token)
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime,
             "refresh_token": secrets.token_urlsafe(32)}
        )  # fmt: skip

    async def status(self, request: web.Request) -> web.Response:
        """ESI status: bearer token, identity headers, then the run's state from its poll count."""
        self._count_peer(request)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.tokens:
            self.stats["unauthorised"] += 1
            return web.json_response({"error": "invalid_token"}, status=401)
        if any(not request.headers.get(name) for name in REQUIRED_HEADERS):
            return web.json_response({"status": "error", "severity": "error", "statusCode": "-5"}, status=400)
        batch_run_id = json.loads(await request.read())["batchRunId"]
        match = RUN_ID.match(batch_run_id)
        if match is None:
            return web.json_response({"status": "error", "severity": "error", "statusCode": "-3"}, status=404)
        self.stats["status_polls"] += 1
        self.polls[batch_run_id] += 1
        poll = self.polls[batch_run_id]
        finished = poll >= int(match.group(1))
        if finished:
            self.stats["runs_finished"] += 1
        details = f"Success (poll {poll})" if match.group(2) else "Success"
        return web.Response(body=status_answer(batch_run_id, finished, details), content_type="application/json")

    async def get_stats(self, request: web.Request) -> web.Response:
        """The counters so far (the bench reads them before and after each scenario)."""
        return web.json_response(dict(self.stats))

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        app.router.add_post(TOKEN_PATH, self.token)
        app.router.add_post(STATUS_PATH, self.status)
        app.router.add_get(STATS_PATH, self.get_stats)
        return app


def _basic(user: str, password: str) -> str:
    import base64

    return base64.b64encode(f"{user}:{password}".encode()).decode()


def connection_dict(base_url: str, ca_file: str | None) -> dict[str, Any]:
    """The ``ofs_scheduler`` connection (JSON form for ``AIRFLOW_CONN_...``) to a bench server."""
    extra: dict[str, Any] = {
        "iam_url": base_url + TOKEN_PATH,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "tenant_id": TENANT_ID,
        "service_id": SERVICE_ID,
        "timeout": 30,
    }
    if ca_file:
        extra["verify"] = ca_file
    return {"conn_type": "ofs_scheduler", "host": base_url, "login": USERNAME, "password": PASSWORD, "extra": extra}


async def serve(port: int, certfile: str | None, keyfile: str | None) -> None:
    """Serve on 127.0.0.1 until SIGTERM/SIGINT; print ``listening <port>`` once ready."""
    context = None
    if certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
    runner = web.AppRunner(BenchServer().app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=context, backlog=2048)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"listening {runner.addresses[0][1]}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    """Command line: ``python -m bench.status_server [--port P] [--certfile C --keyfile K]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.certfile, args.keyfile))


if __name__ == "__main__":
    main()
