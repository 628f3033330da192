"""Oracle IAM tokens: the password and refresh grants, reading IAM's answer, and which grant to try."""

from __future__ import annotations

import base64
import math
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from airflow_provider_ofs.exceptions import (
    FailureKind,
    OFSAuthenticationError,
    OFSCredentialsRefusedError,
    OFSTransportError,
)
from airflow_provider_ofs.protocol.answers import http_error, json_object
from airflow_provider_ofs.protocol.calls import HttpRequest, HttpResponse
from airflow_provider_ofs.protocol.settings import SENDABLE_TOKEN, ConnectionSettings
from airflow_provider_ofs.protocol.texts import server_text

#: The scope that makes IAM issue a refresh token; a refresh grant asks for the rest of the connection's scope.
OFFLINE_ACCESS = "offline_access"
#: The token lifetime assumed when ``expires_in`` is 0, negative, NaN or not a number: a bad answer costs one
#: token request a minute instead of one per call. A positive, finite ``expires_in`` is believed as given.
FALLBACK_TOKEN_LIFETIME = 60.0
#: The lifetime IAM gives a token when its answer has no ``expires_in`` (an hour).
DEFAULT_TOKEN_LIFETIME = 3600.0
#: Longest token lifetime believed (IAM issues tokens for up to a year).
MAX_TOKEN_LIFETIME = 366 * 86400.0
#: A token is renewed this long before it expires, or a quarter of its lifetime before for short-lived ones.
TOKEN_REFRESH_LEAD = 60.0
TOKEN_REFRESH_FRACTION = 0.25


@dataclass(frozen=True)
class Token:
    """An access token and when to stop using it."""

    access_token: str = field(repr=False)
    expires_at: float
    refresh_token: str | None = field(default=None, repr=False)
    refresh_at: float = 0.0

    def is_fresh(self, now: float | None = None) -> bool:
        """Whether the token can still be used without refreshing it first."""
        return (time.time() if now is None else now) < self.refresh_at


def token_clock() -> float:
    """The clock tokens are timed by (epoch seconds): read when a token request is sent."""
    return time.time()


def refresh_scope(scope: str) -> str:
    """The scope a refresh grant asks for: the password grant's, without ``offline_access`` (ESI-NOTES 18)."""
    return " ".join(word for word in scope.split() if word != OFFLINE_ACCESS)


def build_token_request(settings: ConnectionSettings, refresh_token: str | None = None) -> HttpRequest:
    """Build the IAM token call: a password grant, or a refresh grant when a refresh token is given."""
    basic = base64.b64encode(f"{settings.client_id}:{settings.client_secret}".encode()).decode()
    if refresh_token:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "scope": refresh_scope(settings.scope)}
    else:
        form = {
            "grant_type": "password",
            "scope": settings.scope,
            "username": settings.username,
            "password": settings.password,
        }
    return HttpRequest(
        url=settings.iam_url,
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
            "Accept": "application/json",
        },
        body=urlencode(form).encode(),
        verb="token",
    )


def parse_token_answer(response: HttpResponse, settings: ConnectionSettings, now: float | None = None) -> Token:
    """Read IAM's answer: a token, or an error that says why (never echoing a secret).

    ``now`` is when the token request was sent (epoch seconds; the current time when not given): the
    token's lifetime (``token_lifetime``) counts from then, and it is renewed ahead of its end
    (``TOKEN_REFRESH_LEAD``, or ``TOKEN_REFRESH_FRACTION`` of a short lifetime).
    """
    answer = json_object(response.body)
    where = f"IAM token request for connection {settings.conn_id!r}"
    if response.status in (400, 401) and answer is not None and "error" in answer:
        reason = server_text(answer.get("error"), settings.secrets)
        refused = _REFUSALS.get(reason)
        if refused:
            raise OFSCredentialsRefusedError(
                f"{where} to {settings.iam_url} failed: {reason}: {refused}. The task is not retried, so that the "
                f"account is not locked by repeated attempts"
            )
        detail = server_text(answer.get("error_description") or "refused", settings.secrets)
        raise OFSAuthenticationError(f"{where} failed: {reason} ({detail})")
    if response.status >= 400:
        raise http_error(where, response)
    if answer is None or not isinstance(answer.get("access_token"), str) or not answer["access_token"]:
        raise OFSTransportError(f"{where}: the answer has no access_token", kind=FailureKind.MALFORMED)
    if not SENDABLE_TOKEN.fullmatch(answer["access_token"]):
        raise OFSAuthenticationError(
            f"{where}: the access_token IAM issued holds whitespace, control or non-ASCII characters, "
            f"which an HTTP header cannot carry; it was not used"
        )
    lifetime = token_lifetime(answer.get("expires_in", DEFAULT_TOKEN_LIFETIME))
    issued = token_clock() if now is None else now
    refresh_token = answer.get("refresh_token")
    return Token(
        access_token=answer["access_token"],
        expires_at=issued + lifetime,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        refresh_at=issued + lifetime - min(TOKEN_REFRESH_LEAD, lifetime * TOKEN_REFRESH_FRACTION),
    )


#: IAM's refusals of the credentials themselves (RFC 6749 5.2), and what to check for each.
_REFUSALS = {
    "invalid_client": "the client_id/client_secret were refused; check extra fields 'client_id' and "
    "'client_secret' (the application's, in IAM) and that 'iam_url' is the token endpoint of the IAM domain "
    "that holds it",
    "invalid_grant": "the user name/password were refused; check fields 'login' and 'password' (an IAM user, "
    "not locked, whose password has not expired)",
    "unauthorized_client": "IAM does not let this OAuth client use the password grant; allow the "
    "'Resource Owner' grant for the application in IAM",
}


def token_lifetime(expires_in: Any) -> float:
    """Seconds a token lives, from IAM's ``expires_in``: a positive, finite number (or numeric text) as given,
    up to ``MAX_TOKEN_LIFETIME``; 0, negative, NaN or anything else ``FALLBACK_TOKEN_LIFETIME``."""
    try:
        lifetime = float(expires_in) if not isinstance(expires_in, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        lifetime = math.nan
    if math.isnan(lifetime) or lifetime <= 0:
        return FALLBACK_TOKEN_LIFETIME
    return min(MAX_TOKEN_LIFETIME, lifetime)


def pre_issued_token(settings: ConnectionSettings) -> Token:
    """A token given in the connection: used as is, never refreshed (IAM allows lifetimes up to a year)."""
    return Token(access_token=settings.access_token, expires_at=float("inf"), refresh_at=float("inf"))


def token_source(settings: ConnectionSettings, stale: Token | None) -> Token | tuple[str | None, ...]:
    """Where a new token comes from, for both transports.

    The connection's pre-issued token, as is, every time: nothing can renew it, so a refused one is
    repeated once and fails that call only (``unauthorized``), and the next call tries it again. Or the
    IAM grants to try in order, each a refresh token or ``None`` for the password grant: the stale
    token's refresh grant first when it has one, then the password grant if IAM refuses it.
    """
    if settings.access_token:
        return pre_issued_token(settings)
    if stale is not None and stale.refresh_token:
        return (stale.refresh_token, None)
    return (None,)


def unauthorized(settings: ConnectionSettings, verb: str) -> OFSAuthenticationError:
    """ESI refused the bearer token twice in a row (ESI-NOTES 13)."""
    source = "pre-issued access_token" if settings.access_token else "token just obtained from IAM"
    return OFSAuthenticationError(
        f"ESI {verb}: HTTP 401, the {source} of connection {settings.conn_id!r} was refused "
        f"(check that the IAM user may call the External Scheduler Interface)"
    )
