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
from typing import Any, TypeVar

import aiohttp

from airflow_provider_ofs._compat import amask_secret
from airflow_provider_ofs.exceptions import (
    FailureKind,
    OFSAlreadyInterruptedError,
    OFSApiError,
    OFSAuthenticationError,
)
from airflow_provider_ofs.hooks.ca_bundles import CA_BUNDLES
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
    ca_bundle_error,
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
# Per loop: connection id -> (the settings object, its proxy chooser); see ``loop_proxy_chooser``.
_PROXIES: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, tuple[ConnectionSettings, Callable[[str], str | None]]]
] = weakref.WeakKeyDictionary()


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


def ssl_context(settings: ConnectionSettings, *, reread: bool = False) -> ssl.SSLContext | bool:
    """What aiohttp verifies the server with: its own default (true), nothing (false), or the CA bundle file.

    True and False are aiohttp's own: verified with the system CAs through the context it has already built
    (building another costs tens of milliseconds), or not verified. A bundle's context is rebuilt when the
    file's content changes (``ca_bundles``): read again when ``reread`` (a client's first call, so a trigger
    started after a renewal verifies against it) and otherwise at most every ``RECHECK_SECONDS``.
    """
    verify = settings.verify
    if isinstance(verify, bool):
        return verify
    try:
        return CA_BUNDLES.context(verify, reread=reread)
    except ssl.SSLError:
        raise  # a file that holds no usable certificate: ``setup_error`` in ``_send``
    except OSError:
        raise ca_bundle_error(settings) from None


def loop_proxy_chooser(settings: ConnectionSettings) -> Callable[[str], str | None]:
    """``transport.proxy_chooser`` of these settings, shared by the clients of the running loop that use them.

    Reading the process environment costs about 0.1 ms: it is read once per settings object (that is, once
    per connection read, ``SETTINGS_TTL``) rather than once per trigger.
    """
    try:
        known: dict[str, tuple[ConnectionSettings, Callable[[str], str | None]]] = _running_loop_entry(_PROXIES)
    except RuntimeError:  # no running loop: nothing to share with
        return proxy_chooser(settings)
    entry = known.get(settings.conn_id)
    if entry is None or entry[0] is not settings:
        entry = known[settings.conn_id] = (settings, proxy_chooser(settings))
    return entry[1]


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
        self._proxy = loop_proxy_chooser(settings)
        self._poll: StatusPoll | None = None
        # Kept from the previous call, as a poll repeats it: the request with its bearer token, the loop's session.
        self._signed: tuple[HttpRequest, str, HttpRequest] | None = None
        self._session: tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession] | None = None
        self._ca_read = False  # whether this client has read its CA bundle file (``ssl_context``)

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
        token = TOKEN_CACHE.fresh(self.settings.cache_key) or await self._token()
        response = await self._send(self._with_bearer(request, token.access_token))
        if response.status == 401:
            TOKEN_CACHE.invalidate(self.settings.cache_key, token)
            response = await self._send(request.with_bearer((await self._token()).access_token))
            if response.status == 401:
                raise unauthorized(self.settings, request.verb)
        return read(response, request.verb)

    def _with_bearer(self, request: HttpRequest, access_token: str) -> HttpRequest:
        """``request.with_bearer(access_token)``, the one of the previous call when it is the same."""
        signed = self._signed
        if signed is None or signed[0] is not request or signed[1] != access_token:
            signed = self._signed = (request, access_token, request.with_bearer(access_token))
        return signed[2]

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

    def _loop_session(self) -> aiohttp.ClientSession:
        """``shared_session`` of the running loop, kept between calls while that loop's session is open."""
        loop = asyncio.get_running_loop()
        kept = self._session
        if kept is None or kept[0] is not loop or kept[1].closed:
            kept = self._session = (loop, shared_session(self.settings.verify))
        return kept[1]

    def _ssl_context(self) -> ssl.SSLContext | bool:
        """``ssl_context``; the client's first call reads the CA bundle file whatever its age."""
        context = ssl_context(self.settings, reread=not self._ca_read)
        self._ca_read = True
        return context

    @staticmethod
    async def _collect(request: HttpRequest, answer: aiohttp.ClientResponse) -> bytes:
        """The answer's body, collected piece by piece and refused once it passes ``MAX_ANSWER_BYTES``."""
        body = AnswerBody(request)
        while chunk := await answer.content.read(READ_SIZE):
            body.add(chunk)
        return body.read()

    async def _send(self, request: HttpRequest) -> HttpResponse:
        """One POST, bounded by ``timeout`` and ``MAX_ANSWER_BYTES``; redirects refused (``check_head``)."""
        proxy = self._proxy(request.url)
        try:
            async with self._loop_session().post(
                request.url,
                data=request.body,
                headers=request.headers,
                timeout=self._timeout,
                ssl=self._ssl_context(),
                proxy=proxy,
                allow_redirects=False,
            ) as answer:
                head = answer.headers
                length = head.get("Content-Length")
                check_head(self.settings, request, answer.status, head.get("Location"), length, proxy)
                # Read at once when the length was announced (``check_head`` refused one above the limit, and
                # aiohttp reads no further) and the body is not compressed (its decoded size is not the announced
                # one); otherwise collected piece by piece against the limit.
                at_once = length is not None and "Content-Encoding" not in head
                body = await (answer.read() if at_once else self._collect(request, answer))
                return HttpResponse(
                    status=answer.status,
                    body=body,
                    content_type=head.get("Content-Type", ""),
                    retry_after=head.get("Retry-After"),
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
