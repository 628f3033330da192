"""What the sync hook and the async client share below both: settings from Airflow, error texts, warnings.

Both transports import from here (and from the pure ``protocol`` core); neither imports the other,
except the sync hook loading the async client where a coroutine needs it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

from airflow.providers.common.compat.sdk import AirflowNotFoundException

from airflow_provider_ofs._compat import reads_stored_connections
from airflow_provider_ofs.exceptions import FailureKind, OFSConnectionConfigError, OFSTransportError
from airflow_provider_ofs.protocol import MAX_ANSWER_BYTES, ConnectionSettings, HttpRequest, proxy_for

#: Bytes asked for per read while an answer's body is collected piece by piece (``AnswerBody``).
READ_SIZE = 64 * 1024
#: Logged when IAM refuses a refresh token and the password grant is tried instead.
REFRESH_REFUSED = "IAM refused the refresh token of %r; using the password grant"
#: Logged once per process for each plain-http URL of a connection (``warn_if_insecure``).
_PLAIN_HTTP = "Connection %r: %r is a plain http:// URL, so %s sent unencrypted. Use an https:// URL."


def settings_from_connection(conn_id: str, conn: Any, extra: dict[str, Any]) -> ConnectionSettings:
    """Build validated settings from an Airflow ``Connection`` (sync or async path)."""
    return ConnectionSettings.from_connection(
        conn_id,
        host=conn.host,
        login=conn.login,
        password=conn.password,
        extra=extra,
        port=conn.port,
        schema=conn.schema,
    )


#: Said instead when the process cannot read connections stored in Airflow's database (``reads_stored_connections``).
OUTSIDE_A_TASK = (
    "Connection {conn_id!r} is not defined for this process: on Airflow 3 only a task or the triggerer can read "
    "the connections stored in Airflow's database, and this is a plain Python process. For a script, set "
    "{var} to the connection's JSON (`airflow connections get {conn_id} -o json`)"
)


@contextmanager
def defined_connection(conn_id: str) -> Iterator[None]:
    """Turn Airflow's "connection not defined" into a configuration error, which no retry can fix."""
    try:
        yield
    except AirflowNotFoundException:
        if not reads_stored_connections():
            raise OFSConnectionConfigError(
                OUTSIDE_A_TASK.format(conn_id=conn_id, var=f"AIRFLOW_CONN_{conn_id.upper()}")
            ) from None
        raise OFSConnectionConfigError(
            f"Connection {conn_id!r} is not defined: add it (Admin > Connections, `airflow connections add`, an "
            f"AIRFLOW_CONN_{conn_id.upper()} variable or a secrets backend) where the task and the triggerer run"
        ) from None


def proxy_chooser(settings: ConnectionSettings) -> Callable[[str], str | None]:
    """``protocol.proxy_for`` of this connection and the process environment, remembered per URL called."""
    return lru_cache(maxsize=8)(lambda url: proxy_for(settings, url, os.environ))


def transport_error(request: HttpRequest, kind: FailureKind, detail: str = "") -> OFSTransportError:
    """The error for a failed HTTP exchange; names the call and the host, never a header or body."""
    return OFSTransportError(f"{_target(request)} at {request.url}: {kind.value}{detail}", kind=kind)


def check_head(
    settings: ConnectionSettings,
    request: HttpRequest,
    status: int,
    location: str | None,
    content_length: str | None,
    proxy: str | None = None,
) -> None:
    """Refuse an answer from its status line and headers alone: a redirect, a proxy's 407, a body too large.

    Redirects are never followed: a 3xx re-posting the IAM form would hand the password to another host,
    and an SSO gateway's 302 to its login page would read as a lost answer. A 3xx is a configuration
    error, and nothing is sent to where it points. A 407 through ``proxy`` is the proxy's answer, not the
    service's (``proxy_refused``).
    """
    if proxy and status == 407:
        raise proxy_refused(settings, request, proxy, status)
    if 300 <= status < 400:
        target = urlsplit(urljoin(request.url, location or "")).hostname if location else None
        where = f"a redirect to host {target!r}" if target else "a redirect without a Location"
        field = "iam_url" if request.verb == "token" else "host"
        raise OFSConnectionConfigError(
            f"Connection {settings.conn_id!r}: {_target(request)} at {request.url} answered HTTP {status}, {where}. "
            f"Redirects are not followed: the call was not processed there and nothing was sent on. Set {field!r} "
            f"to the address of the service itself (an SSO login page or a gateway in front of it redirects)."
        )
    if content_length is not None and content_length.strip().isdigit() and int(content_length) > MAX_ANSWER_BYTES:
        raise too_large(request)


def proxy_refused(
    settings: ConnectionSettings, request: HttpRequest, proxy: str, status: int | None
) -> OFSConnectionConfigError | OFSTransportError:
    """The error for a proxy that did not carry a call: its 407, or a CONNECT tunnel it did not open (``status``,
    ``None`` when it gave none). Nothing reached ESI or IAM, so nothing was processed.

    A 4xx (407: the proxy wants credentials, or others it was not given; 403: it does not allow the host) is a
    configuration error, not retried; anything else (the proxy could not reach the service) is ``NOT_CONNECTED``,
    which even a trigger may repeat. The proxy is named without its password.
    """
    source = "the connection's extra 'proxy'" if settings.proxy else "the HTTPS_PROXY/HTTP_PROXY/ALL_PROXY environment"
    where = f"{_target(request)} to {request.url} through the proxy {shown_proxy(proxy)} (from {source})"
    if status is None or not 400 <= status < 500:
        answered = f"HTTP {status}" if status is not None else "no answer"
        return transport_error(request, FailureKind.NOT_CONNECTED, f" (the proxy {shown_proxy(proxy)}: {answered})")
    if status == 407:
        what = (
            "HTTP 407 (Proxy Authentication Required): the proxy wants a user and password it was not given, or "
            "refused the ones given. Put them in the proxy URL, http://user:password@proxy.example.com:3128"
        )
    else:
        what = (
            f"HTTP {status}, refusing to open a tunnel (CONNECT) to {urlsplit(request.url).netloc}: ask the proxy's "
            f"administrators to allow that host, or list it in NO_PROXY if it is reached directly"
        )
    return OFSConnectionConfigError(
        f"Connection {settings.conn_id!r}: {where} did not reach the service, so nothing was processed. The proxy "
        f"answered {what}."
    )


def shown_proxy(proxy: str) -> str:
    """A proxy URL fit for a message: its user kept, its password replaced by ``***``."""
    parts = urlsplit(proxy)
    user = ""
    if parts.username is not None:
        user = f"{parts.username}:***@" if parts.password is not None else f"{parts.username}@"
    return f"{parts.scheme}://{user}{parts.netloc.rpartition('@')[2]}"


def too_large(request: HttpRequest) -> OFSTransportError:
    """The error for an answer longer than ``MAX_ANSWER_BYTES`` (read no further)."""
    return transport_error(
        request, FailureKind.MALFORMED, f" (the answer is longer than {MAX_ANSWER_BYTES} bytes, the most read)"
    )


class AnswerBody:
    """An answer's body collected as it arrives, refused once it passes ``MAX_ANSWER_BYTES``."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        """Keep the next piece of the body; raise ``too_large`` when the body grows past the limit."""
        self._size += len(chunk)
        if self._size > MAX_ANSWER_BYTES:
            raise too_large(self._request)
        self._chunks.append(chunk)

    def read(self) -> bytes:
        """The whole body so far."""
        return b"".join(self._chunks)


def setup_error(settings: ConnectionSettings, request: HttpRequest) -> OFSConnectionConfigError:
    """The error for a call that failed before its request could leave: the CA bundle, TLS, or the URL.

    Built from our own words only: a library's text may quote a header (the bearer token) or the request.
    """
    if isinstance(settings.verify, str) and not os.access(settings.verify, os.R_OK):
        return ca_bundle_error(settings)
    if request.url.startswith("https://"):
        return OFSConnectionConfigError(
            f"Connection {settings.conn_id!r}: TLS to {request.url} failed (the server's certificate was not "
            f"accepted, or the handshake failed). Set extra 'verify' to the path of the server's CA bundle (PEM), "
            f"or false to skip verification."
        )
    field = "iam_url" if request.verb == "token" else "host"
    return OFSConnectionConfigError(
        f"Connection {settings.conn_id!r}: {_target(request)} at {request.url} could not be sent; check {field!r}"
    )


def ca_bundle_error(settings: ConnectionSettings) -> OFSConnectionConfigError:
    """The error for a ``verify`` path that names no readable file."""
    return OFSConnectionConfigError(
        f"Connection {settings.conn_id!r}: extra 'verify' names a CA bundle that does not exist or cannot be "
        f"read: {settings.verify}"
    )


def _target(request: HttpRequest) -> str:
    return "IAM token endpoint" if request.verb == "token" else f"ESI {request.verb}"


def warn_if_insecure(settings: ConnectionSettings, log: Any) -> None:
    """Log what the connection sends unprotected: verification off (per hook or client), plain http (per process).

    No certificate verification (``verify`` false), and each plain-http URL: ``iam_url`` carries the IAM
    password and client secret, ``host`` the bearer token.
    """
    if settings.verify is False:
        log.warning(
            "Connection %r: TLS certificate verification is off (extra 'verify' is false), so the identity of "
            "%s is not checked. Set 'verify' to the path of the server's CA bundle (PEM) instead.",
            settings.conn_id,
            settings.base_url,
        )
    if settings.iam_url.startswith("http://") and not settings.access_token:
        _warn_once(log, settings.conn_id, "iam_url", "the IAM password and client secret are")
    if settings.base_url.startswith("http://"):
        _warn_once(log, settings.conn_id, "host", "the bearer token of every ESI call is")


#: The (connection id, field) pairs this process already warned of, so a task log says each once.
_WARNED_PLAIN_HTTP: set[tuple[str, str]] = set()


def _warn_once(log: Any, conn_id: str, field: str, what: str) -> None:
    if (conn_id, field) not in _WARNED_PLAIN_HTTP:
        _WARNED_PLAIN_HTTP.add((conn_id, field))
        log.warning(_PLAIN_HTTP, conn_id, field, what)
