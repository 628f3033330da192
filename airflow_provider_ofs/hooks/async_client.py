"""The asyncio side of the hook: ESI calls over one shared keep-alive aiohttp session per event loop.

Imported only where a coroutine needs it (triggers), so that parsing a DAG file never loads aiohttp.
Requests, answers, retry rules and the token cache are the ones of the sync hook (``protocol``,
``retrying``, ``tokens``); this module only moves bytes.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

import aiohttp

from airflow_provider_ofs._compat import amask_secret
from airflow_provider_ofs.exceptions import (
    FailureKind,
    OFSAlreadyInterruptedError,
    OFSApiError,
    OFSAuthenticationError,
)
from airflow_provider_ofs.protocol import (
    ConnectionSettings,
    HttpRequest,
    HttpResponse,
    StatusPoll,
    Token,
    Verb,
    build_probe,
    build_run_action,
    build_token_request,
    decode_answer,
    parse_token_answer,
    probe_verdict,
    token_clock,
    token_source,
    unauthorized,
)
from airflow_provider_ofs.retrying import aretried
from airflow_provider_ofs.shared_calls import SharedCalls
from airflow_provider_ofs.states import RunStatus
from airflow_provider_ofs.tokens import TOKEN_CACHE
from airflow_provider_ofs.transport import (
    READ_SIZE,
    REFRESH_REFUSED,
    AnswerBody,
    ca_bundle_version,
    check_head,
    defined_connection,
    proxy_chooser,
    proxy_refused,
    settings_from_connection,
    setup_error,
    transport_error,
    warn_if_insecure,
)

#: Seconds the triggers of one event loop reuse a connection's settings instead of reading it again.
SETTINGS_TTL = 60.0
#: Most keep-alive connections a loop's shared session opens to one ESI host. Polls beyond it wait for a
#: free connection instead of opening more: a TLS connection holds about 300 KiB of buffers, and OFS sees
#: at most this many concurrent calls from one triggerer. At half a second per call, 16 connections
#: carry 32 polls a second, that is about a thousand runs polled every 30 seconds.
CONNECTIONS_PER_HOST = 16

T = TypeVar("T")

_SESSIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[object, aiohttp.ClientSession]] = (
    weakref.WeakKeyDictionary()
)
# Per loop: connection id -> (monotonic expiry, settings). Keyed by loop, so a new loop reads connections afresh.
_SETTINGS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, tuple[float, ConnectionSettings]]] = (
    weakref.WeakKeyDictionary()
)
_SETTINGS_READS: SharedCalls[str, ConnectionSettings] = SharedCalls()


def _running_loop_entry(
    registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, Any]],
) -> dict[Any, Any]:
    """The running loop's dict in ``registry``, created on first use.

    Not ``setdefault``: on a ``WeakKeyDictionary`` it makes a new weak reference on every call, and this
    runs on every poll.
    """
    loop = asyncio.get_running_loop()
    entry = registry.get(loop)
    if entry is None:
        entry = registry[loop] = {}
    return entry


async def aload_settings(conn_id: str, hook: Any = None) -> ConnectionSettings:
    """Read and validate a connection without blocking the event loop (triggerer-safe).

    The triggers of one event loop share what was read for ``SETTINGS_TTL`` seconds, and concurrent
    first reads share one lookup: hundreds of triggers starting together read the connection once (in
    a triggerer, a round trip to the API server). A connection that fails validation is not kept.
    """
    known: dict[str, tuple[float, ConnectionSettings]] = _running_loop_entry(_SETTINGS)
    entry = known.get(conn_id)
    if entry is not None and time.monotonic() < entry[0]:
        return entry[1]
    return await _SETTINGS_READS.run(conn_id, lambda: _read_settings(conn_id, hook, known))


async def _read_settings(
    conn_id: str, hook: Any, known: dict[str, tuple[float, ConnectionSettings]]
) -> ConnectionSettings:
    from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

    with defined_connection(conn_id):
        conn = await get_async_connection(conn_id, hook)
    settings = settings_from_connection(conn_id, conn, await get_async_extra_dejson(conn))
    known[conn_id] = (time.monotonic() + SETTINGS_TTL, settings)
    return settings


def ssl_context(settings: ConnectionSettings) -> ssl.SSLContext | bool:
    """What aiohttp verifies the server with: its own default (true), nothing (false), or the CA bundle file.

    A bundle is loaded again when its file changes (a renewed certificate at the same path), so triggers
    started after a renewal verify against it without a triggerer restart.
    """
    return _ssl_context(settings.verify, ca_bundle_version(settings))


@lru_cache(maxsize=16)
def _ssl_context(verify: bool | str, version: tuple[int, int] | None) -> ssl.SSLContext | bool:
    # True and False are aiohttp's own: verified with the system CAs through the context it has already
    # built (building another costs tens of milliseconds), or not verified; a path is a CA bundle, cached
    # by its path and version (modification time and size).
    if isinstance(verify, bool):
        return verify
    return ssl.create_default_context(cafile=verify)


def shared_session(verify: bool | str) -> aiohttp.ClientSession:
    """The running loop's keep-alive session for this TLS setting, created on first use.

    Every request passes its ``ssl_context``: the connector pools connections per context, so a renewed
    CA bundle gets new connections while the old ones close when idle.
    """
    sessions = _running_loop_entry(_SESSIONS)
    session = sessions.get(verify)
    if session is None or session.closed:
        # trust_env stays off: the proxy is chosen per request by ``protocol.proxy_for``, as on the sync path.
        connector = aiohttp.TCPConnector(limit_per_host=CONNECTIONS_PER_HOST, ttl_dns_cache=300)
        session = aiohttp.ClientSession(connector=connector, json_serialize=None)  # type: ignore[arg-type]
        sessions[verify] = session
    return session


async def close_shared_sessions() -> None:
    """Close the running loop's sessions (end of a test or benchmark; a triggerer keeps them)."""
    sessions = _SESSIONS.pop(asyncio.get_running_loop(), {})
    for session in sessions.values():
        await session.close()


class AsyncESIClient:
    """Status and interrupt calls for triggers; same rules, tokens and errors as ``OFSSchedulerHook``."""

    def __init__(self, settings: ConnectionSettings, log: Any) -> None:
        self.settings = settings
        self.log = log
        warn_if_insecure(settings, log)
        self._timeout = aiohttp.ClientTimeout(total=settings.timeout, sock_connect=settings.timeout)
        self._proxy = proxy_chooser(settings)
        self._poll: StatusPoll | None = None

    def get_status(self, batch_run_id: str, tasks: Sequence[str] | None = None) -> Awaitable[RunStatus]:
        """The state of a run (see ``OFSSchedulerHook.get_status``).

        The client keeps the status call of the run it was last asked about (``StatusPoll``): polling that
        run again reuses the request, and an unchanged answer its ``RunStatus``.
        """
        poll = self._poll
        if poll is None or not poll.is_for(batch_run_id, tasks):
            poll = self._poll = StatusPoll(self.settings, batch_run_id, tasks)
        return self._call(poll.request, f"run {batch_run_id}", poll.read)

    async def interrupt(self, batch_name: str, batch_run_id: str) -> None:
        """Interrupt a run; already interrupted (code -7) counts as done."""
        request = build_run_action(self.settings, Verb.INTERRUPT, batch_name, batch_run_id)
        try:
            await self._call(request, f"run {batch_run_id} of {batch_name}", self._decode)
        except OFSAlreadyInterruptedError:
            self.log.info("OFS run %s was already interrupted (code -7); nothing to do", batch_run_id)
            return
        self.log.info("Interrupted OFS run %s of %s", batch_run_id, batch_name)

    async def probe(self) -> str:
        """``test_connection`` on this transport: a token from IAM (unless pre-issued) and the probe status call.

        Each is sent once, without retries; the token is asked for even when the process has one cached, so
        that this transport's own way to IAM (TLS, proxy) is tried.
        """
        if not self.settings.access_token:
            await self._request_token(None)
        try:
            await self._exchange(build_probe(self.settings), self._decode)
        except OFSApiError as refusal:
            return probe_verdict(refusal)
        return probe_verdict(None)

    def _decode(self, response: HttpResponse, verb: str) -> dict[str, Any]:
        """``decode_answer`` with the connection's secrets redacted from any server text it quotes."""
        return decode_answer(response, verb, self.settings.secrets)

    def _call(self, request: HttpRequest, subject: str, read: Callable[[HttpResponse, str], T]) -> Awaitable[T]:
        # Not a coroutine itself: every await of a poll passes through each coroutine frame of the chain.
        return aretried(lambda: self._exchange(request, read), request, self.settings, self.log, subject)

    async def _exchange(self, request: HttpRequest, read: Callable[[HttpResponse, str], T]) -> T:
        token = await self._token()
        response = await self._send(request.with_bearer(token.access_token))
        if response.status == 401:
            TOKEN_CACHE.invalidate(self.settings.cache_key, token)
            response = await self._send(request.with_bearer((await self._token()).access_token))
            if response.status == 401:
                raise unauthorized(self.settings, request.verb)
        return read(response, request.verb)

    async def _token(self) -> Token:
        token = TOKEN_CACHE.fresh(self.settings.cache_key)
        return token if token is not None else await TOKEN_CACHE.aget(self.settings.cache_key, self._fetch_token)

    async def _fetch_token(self, stale: Token | None) -> Token:
        source = token_source(self.settings, stale)
        if isinstance(source, Token):
            return source
        *refusable, last = source
        for refresh_token in refusable:
            try:
                return await self._request_token(refresh_token)
            except OFSAuthenticationError:
                self.log.info(REFRESH_REFUSED, self.settings.conn_id)
        return await self._request_token(last)

    async def _request_token(self, refresh_token: str | None) -> Token:
        request = build_token_request(self.settings, refresh_token)
        token = await aretried(
            lambda: self._token_answer(request),
            request,
            self.settings,
            self.log,
            f"connection {self.settings.conn_id!r}",
        )
        await amask_secret(token.access_token)
        if token.refresh_token:
            await amask_secret(token.refresh_token)
        return token

    async def _token_answer(self, request: HttpRequest) -> Token:
        sent = token_clock()  # the token's lifetime counts from when it was asked for
        return parse_token_answer(await self._send(request), self.settings, now=sent)

    @staticmethod
    async def _body(request: HttpRequest, answer: aiohttp.ClientResponse) -> bytes:
        """The answer's body, at most ``MAX_ANSWER_BYTES``: read at once when its length was announced.

        ``check_head`` refused an announced length above the limit, and aiohttp reads no further than it. An
        answer without one (chunked, or until the connection closes), or compressed (its decoded size is not
        the announced one), is collected piece by piece and refused once it passes the limit.
        """
        if answer.content_length is not None and "Content-Encoding" not in answer.headers:
            return await answer.read()
        body = AnswerBody(request)
        while chunk := await answer.content.read(READ_SIZE):
            body.add(chunk)
        return body.read()

    async def _send(self, request: HttpRequest) -> HttpResponse:
        """One POST, bounded by ``timeout`` and ``MAX_ANSWER_BYTES``; redirects refused (``check_head``)."""
        proxy = self._proxy(request.url)
        try:
            session = shared_session(self.settings.verify)
            async with session.post(
                request.url,
                data=request.body,
                headers=request.headers,
                timeout=self._timeout,
                ssl=ssl_context(self.settings),
                proxy=proxy,
                allow_redirects=False,
            ) as answer:
                check_head(
                    self.settings,
                    request,
                    answer.status,
                    answer.headers.get("Location"),
                    answer.headers.get("Content-Length"),
                    proxy,
                )
                return HttpResponse(
                    status=answer.status,
                    body=await self._body(request, answer),
                    content_type=answer.headers.get("Content-Type", ""),
                    retry_after=answer.headers.get("Retry-After"),
                )
        except (aiohttp.ClientSSLError, ssl.SSLError):
            raise setup_error(self.settings, request) from None
        except aiohttp.ClientHttpProxyError as error:  # the proxy did not open the CONNECT tunnel
            raise proxy_refused(self.settings, request, proxy or "", error.status) from None
        except aiohttp.ConnectionTimeoutError:
            raise transport_error(request, FailureKind.NOT_CONNECTED) from None
        except aiohttp.ClientConnectorError:
            raise transport_error(request, FailureKind.NOT_CONNECTED) from None
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            raise transport_error(request, FailureKind.TIMEOUT) from None
        except aiohttp.ClientError:
            raise transport_error(request, FailureKind.DROPPED) from None
        except OSError:
            raise setup_error(self.settings, request) from None
