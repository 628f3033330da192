"""The watchers under test: the provider's trigger, the bare-aiohttp floor, the HTTP provider's trigger.

Each async client watches one run until it ends (the bench server ends it after K polls), sleeping
``interval`` seconds between polls. The sync clients call status ``calls`` times in a row. All
clients send the same POST (same headers, same JSON body) and parse the same JSON answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from bench.status_server import CLIENT_ID, CLIENT_SECRET, PASSWORD, STATUS_PATH, TOKEN_PATH, USERNAME

ESI_CONN_ID = "ofs_scheduler_default"
HTTP_CONN_ID = "ofs_bench_http"
WAITING_CODES = ("1", "2", "5")

#: A watcher: (run id, poll interval) -> awaits until the run has ended; returns the final state code.
Watcher = Callable[[str, float], Awaitable[str]]


def esi_headers(connection: dict[str, Any], token: str) -> dict[str, str]:
    """The headers of an ESI status call, as the provider sends them."""
    extra = connection["extra"]
    return {
        "ofs_tenant_id": extra["tenant_id"],
        "ofs_service_id": extra["service_id"],
        "ofs_workspace_id": "WS001",
        "ofs_remote_user": connection["login"],
        "locale": "en-US",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": f"Bearer {token}",
    }


def token_form() -> tuple[dict[str, str], dict[str, str]]:
    """Headers and form of an IAM password grant to the bench server."""
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"}
    form = {"grant_type": "password", "scope": "urn:opc:idm:__myscopes__ offline_access"}
    return headers, {**form, "username": USERNAME, "password": PASSWORD}


def ssl_context(ca_file: str | None) -> ssl.SSLContext | None:
    """A client TLS context that trusts the bench's self-signed certificate (``None`` for plain HTTP)."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else None


# ------------------------------------------------------------------------------------------ async


class FloorClient:
    """The floor: bare aiohttp, one shared keep-alive session, one token, POST + JSON parse per poll."""

    def __init__(self, connection: dict[str, Any]) -> None:
        self.connection = connection
        self.url = connection["host"] + STATUS_PATH
        self.session: Any = None
        self._headers: asyncio.Task[dict[str, str]] | None = None

    async def start(self) -> None:
        """Open the session (no request yet)."""
        import aiohttp

        connector = aiohttp.TCPConnector(ssl=ssl_context(self.connection["extra"].get("verify")) or True, limit=0)
        self.session = aiohttp.ClientSession(connector=connector)

    async def _esi_headers(self) -> dict[str, str]:
        headers, form = token_form()
        async with self.session.post(self.connection["host"] + TOKEN_PATH, data=form, headers=headers) as answer:
            return esi_headers(self.connection, json.loads(await answer.read())["access_token"])

    async def watch(self, batch_run_id: str, interval: float) -> str:
        """Poll one run until it ends."""
        if self._headers is None:  # the first watcher fetches the token; the others await the same fetch
            self._headers = asyncio.ensure_future(self._esi_headers())
        headers = await self._headers
        while True:
            body = json.dumps({"batchRunId": batch_run_id}).encode()
            async with self.session.post(self.url, data=body, headers=headers) as answer:
                if answer.status != 200:
                    raise RuntimeError(f"HTTP {answer.status}")
                state = json.loads(await answer.read())["batchStatusCode"]
            if state not in WAITING_CODES:
                return str(state)
            await asyncio.sleep(interval)

    async def close(self) -> None:
        """Close the session."""
        await self.session.close()


class ProviderTriggerClient:
    """The provider: one ``OFSBatchRunTrigger`` per run, its ``run()`` iterated to its single event."""

    def __init__(self, connection: dict[str, Any]) -> None:
        self.connection = connection

    async def start(self) -> None:
        """Import what a triggerer has imported already (the trigger module and the async client)."""
        import airflow_provider_ofs.hooks.async_client
        import airflow_provider_ofs.triggers.batch  # noqa: F401

    async def watch(self, batch_run_id: str, interval: float) -> str:
        """Run one trigger to its event."""
        from airflow_provider_ofs.states import RunState
        from airflow_provider_ofs.triggers.batch import OFSBatchRunTrigger

        trigger = OFSBatchRunTrigger(batch_run_id, ofs_conn_id=ESI_CONN_ID, poll_interval=interval)
        async for event in trigger.run():
            payload = event.payload
            if payload["status"] != "success":
                raise RuntimeError(f"trigger event {payload}")
            return str(int(RunState[payload["state"]]))
        raise RuntimeError("the trigger yielded no event")

    async def close(self) -> None:
        """Close the loop's shared sessions."""
        from airflow_provider_ofs.hooks.async_client import close_shared_sessions

        await close_shared_sessions()


class ProviderHookClient(ProviderTriggerClient):
    """The provider's async hook alone (``aget_status`` in a loop): the trigger minus its own logic."""

    async def watch(self, batch_run_id: str, interval: float) -> str:
        """Poll one run through one hook until it ends."""
        from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

        hook = OFSSchedulerHook(ofs_conn_id=ESI_CONN_ID)
        while True:
            status = await hook.aget_status(batch_run_id)
            if status.state.is_terminal:
                return str(int(status.state))
            await asyncio.sleep(interval)


class HttpEventTriggerClient:
    """What a user would otherwise write: the HTTP provider's ``HttpEventTrigger`` with a response check.

    It is given a bearer token obtained once (the HTTP provider has no OAuth flow), the same headers and
    body, and a TLS context built once from the CA bundle (the kindest set-up for it).
    """

    def __init__(self, connection: dict[str, Any]) -> None:
        self.connection = connection
        self.headers: dict[str, str] = {}
        self.extra_options: dict[str, Any] = {}

    async def start(self) -> None:
        """Fetch the token once (untimed: the HTTP provider would read it from a connection)."""
        import aiohttp
        from airflow.providers.http.triggers.http import HttpEventTrigger  # noqa: F401

        import bench.http_check  # noqa: F401

        context = ssl_context(self.connection["extra"].get("verify"))
        if context is not None:
            self.extra_options = {"ssl": context}
        headers, form = token_form()
        connector = aiohttp.TCPConnector(ssl=context or True)
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.post(self.connection["host"] + TOKEN_PATH, data=form, headers=headers) as answer,
        ):
            self.headers = esi_headers(self.connection, json.loads(await answer.read())["access_token"])

    async def watch(self, batch_run_id: str, interval: float) -> str:
        """Run one ``HttpEventTrigger`` to its event."""
        from airflow.providers.http.triggers.http import HttpEventTrigger

        trigger = HttpEventTrigger(
            response_check_path="bench.http_check.run_has_ended",
            http_conn_id=HTTP_CONN_ID,
            method="POST",
            endpoint=STATUS_PATH.lstrip("/"),
            headers=self.headers,
            data=json.dumps({"batchRunId": batch_run_id}),
            extra_options=dict(self.extra_options),
            poll_interval=interval,
        )
        async for event in trigger.run():
            payload = event.payload
            if payload["status"] != "success":
                raise RuntimeError(f"trigger event {payload}")
            content = base64.standard_b64decode(payload["response"]["content"])
            return str(json.loads(content)["batchStatusCode"])
        raise RuntimeError("the trigger yielded no event")

    async def close(self) -> None:
        """Nothing is kept open (it opens a session per poll)."""


ASYNC_CLIENTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "provider": ProviderTriggerClient,
    "provider-hook": ProviderHookClient,
    "floor": FloorClient,
    "http-event": HttpEventTriggerClient,
}


# ------------------------------------------------------------------------------------------- sync


def sync_provider(connection: dict[str, Any]) -> Callable[[str], str]:
    """``OFSSchedulerHook.get_status`` (one hook, as an operator's poke loop uses it)."""
    from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

    hook = OFSSchedulerHook(ofs_conn_id=ESI_CONN_ID)
    return lambda batch_run_id: str(int(hook.get_status(batch_run_id).state))


def sync_floor(connection: dict[str, Any]) -> Callable[[str], str]:
    """A bare ``requests.Session``: one token, then POST + JSON parse per call."""
    import requests

    session = requests.Session()
    verify = connection["extra"].get("verify", True)  # per call: REQUESTS_CA_BUNDLE overrides session.verify
    headers, form = token_form()
    token = session.post(connection["host"] + TOKEN_PATH, data=form, headers=headers, timeout=30, verify=verify).json()
    esi = esi_headers(connection, token["access_token"])
    url = connection["host"] + STATUS_PATH

    def status(batch_run_id: str) -> str:
        body = json.dumps({"batchRunId": batch_run_id}).encode()
        answer = session.post(url, data=body, headers=esi, timeout=30, verify=verify)
        answer.raise_for_status()
        return str(json.loads(answer.content)["batchStatusCode"])

    return status


SYNC_CLIENTS: dict[str, Callable[[dict[str, Any]], Callable[[str], str]]] = {
    "sync-provider": sync_provider,
    "sync-floor": sync_floor,
}
