"""What the sync hook and the async client share below both: settings from Airflow, error texts, warnings.

Both transports import from here (and from the pure ``protocol`` core); neither imports the other,
except the sync hook loading the async client where a coroutine needs it.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_ofs.exceptions import FailureKind, OFSConnectionConfigError, OFSTransportError
from airflow_provider_ofs.protocol import ConnectionSettings, HttpRequest

#: Logged when IAM refuses a refresh token and the password grant is tried instead.
REFRESH_REFUSED = "IAM refused the refresh token of %r; using the password grant"


def settings_from_connection(conn_id: str, conn: Any, extra: dict[str, Any]) -> ConnectionSettings:
    """Build validated settings from an Airflow ``Connection`` (sync or async path)."""
    return ConnectionSettings.from_connection(
        conn_id, host=conn.host, login=conn.login, password=conn.password, extra=extra
    )


def transport_error(request: HttpRequest, kind: FailureKind) -> OFSTransportError:
    """The error for a failed HTTP exchange; names the call and the host, never a header or body."""
    target = "IAM token endpoint" if request.verb == "token" else f"ESI {request.verb}"
    return OFSTransportError(f"{target} at {request.url}: {kind.value}", kind=kind)


def tls_error(settings: ConnectionSettings, request: HttpRequest, error: BaseException) -> OFSConnectionConfigError:
    """A TLS failure is a configuration problem, not a transient one: point at the ``verify`` field."""
    return OFSConnectionConfigError(
        f"Connection {settings.conn_id!r}: TLS to {request.url} failed ({type(error).__name__}: {error}). "
        f"Set extra 'verify' to the path of the server's CA bundle (PEM), or false to skip verification."
    )


def warn_if_insecure(settings: ConnectionSettings, log: Any) -> None:
    """Log, once per hook or async client, that the connection does not verify the server's certificate."""
    if settings.verify is False:
        log.warning(
            "Connection %r: TLS certificate verification is off (extra 'verify' is false), so the identity of "
            "%s is not checked. Set 'verify' to the path of the server's CA bundle (PEM) instead.",
            settings.conn_id,
            settings.base_url,
        )
