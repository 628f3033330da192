"""The sync hook's one HTTP exchange: a POST over ``requests``, bounded in time and size, its failures told apart."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from airflow_provider_ofs.exceptions import FailureKind
from airflow_provider_ofs.protocol import ConnectionSettings, HttpRequest, HttpResponse
from airflow_provider_ofs.transport import (
    READ_SIZE,
    AnswerBody,
    check_head,
    proxy_refused,
    setup_error,
    shown_proxy,
    transport_error,
)

if TYPE_CHECKING:
    import requests


def post(
    session: requests.Session, settings: ConnectionSettings, request: HttpRequest, proxy: str | None
) -> HttpResponse:
    """One POST, bounded as a whole by ``timeout`` and in size by ``MAX_ANSWER_BYTES``; redirects refused."""
    import requests  # not at module level (see the hook's ``session``); after the first call a look-up in sys.modules
    from urllib3.exceptions import DecodeError, ReadTimeoutError
    from urllib3.exceptions import HTTPError as ReadError

    deadline = time.monotonic() + settings.timeout
    try:
        answer = session.post(
            request.url,
            data=request.body,
            headers=dict(request.headers),
            timeout=settings.timeout,
            # Per request: a session-level setting loses to REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE in the environment.
            verify=settings.verify,
            allow_redirects=False,  # a 3xx is refused (check_head), never followed
            stream=True,  # the body is read below, within the deadline and the size limit
            proxies={"http": proxy, "https": proxy} if proxy else {},
        )
        with answer:
            check_head(
                settings,
                request,
                answer.status_code,
                answer.headers.get("Location"),
                answer.headers.get("Content-Length"),
                proxy,
            )
            body = _read_body(request, answer.raw, deadline)
    except requests.exceptions.ConnectTimeout:
        raise transport_error(request, FailureKind.NOT_CONNECTED) from None
    except (requests.exceptions.Timeout, ReadTimeoutError):
        raise transport_error(request, FailureKind.TIMEOUT) from None
    except requests.exceptions.SSLError:
        raise setup_error(settings, request) from None
    except requests.exceptions.ProxyError as error:
        raise _proxy_failure(settings, request, proxy or "", error) from None
    except requests.exceptions.ConnectionError as error:
        raise transport_error(request, _connection_failure(error)) from None
    except DecodeError:  # a Content-Encoding the body does not follow
        raise transport_error(request, FailureKind.MALFORMED) from None
    except (requests.exceptions.ChunkedEncodingError, ReadError):
        raise transport_error(request, FailureKind.DROPPED) from None
    except OSError:  # requests' own errors too: a CA bundle path that does not exist, a URL it cannot send
        raise setup_error(settings, request) from None
    return HttpResponse(
        status=answer.status_code,
        body=body,
        content_type=answer.headers.get("Content-Type", ""),
        retry_after=answer.headers.get("Retry-After"),
    )


def _read_body(request: HttpRequest, raw: Any, deadline: float) -> bytes:
    """Read an answer as it arrives (``raw`` is urllib3's response), until the deadline and the size limit.

    Each read takes what the socket has, waiting at most until the deadline: a server trickling its answer
    a byte at a time holds the call for ``timeout``, not for as long as it likes.
    """
    body = AnswerBody(request)
    read = getattr(raw, "read1", None) or raw.read  # urllib3 before 2.3 has no read1: each read waits longer
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise transport_error(request, FailureKind.TIMEOUT)
        if sock is not None:
            sock.settimeout(remaining)
        chunk = read(READ_SIZE, decode_content=True)
        if not chunk:
            return body.read()
        body.add(chunk)


def _connection_failure(error: requests.exceptions.ConnectionError) -> FailureKind:
    """Tell "never connected" (safe to repeat any call) from "dropped after sending" (maybe processed)."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    reason = error.args[0] if error.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return FailureKind.NOT_CONNECTED if isinstance(reason, NewConnectionError) else FailureKind.DROPPED


#: How Python's ``http.client`` reports a CONNECT the proxy did not accept (the only place its status shows).
_TUNNEL_REFUSED = re.compile(r"Tunnel connection failed: (\d{3})")


def _proxy_failure(
    settings: ConnectionSettings, request: HttpRequest, proxy: str, error: requests.exceptions.ProxyError
) -> Exception:
    """The error for a ``ProxyError``: whether the call may have reached the service decides it.

    urllib3 says "Unable to connect to proxy" for more than that: a forward proxy (an ``http://`` service)
    that took the whole request, passed it on and then dropped the client raises it too. Only a proxy never
    reached, or a CONNECT tunnel it refused with a status, proves that nothing was sent (``proxy_refused``);
    anything else may have been processed.
    """
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    status = _tunnel_status(error)
    cause = _proxy_cause(error)
    if status is not None or isinstance(cause, (NewConnectionError, ConnectTimeoutError, ConnectionRefusedError)):
        return proxy_refused(settings, request, proxy, status)
    dropped_by = f" (by the proxy {shown_proxy(proxy)}, after it took the call)"
    return transport_error(request, FailureKind.DROPPED, dropped_by)


def _proxy_cause(error: requests.exceptions.ProxyError) -> object:
    """What urllib3's ``ProxyError`` inside ``error`` wraps (its ``original_error``), or ``None``."""
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError -> urllib3's ProxyError
    return getattr(reason, "original_error", None)


def _tunnel_status(error: requests.exceptions.ProxyError) -> int | None:
    """The HTTP status with which the proxy refused a CONNECT; ``None`` when it gave none."""
    found = _TUNNEL_REFUSED.search(str(_proxy_cause(error) or ""))
    return int(found.group(1)) if found else None
