"""Oracle IAM stand-in: issues, checks, expires and rotates opaque OAuth tokens.

Access tokens live ``lifetime`` seconds of wall-clock time (never scaled by the simulator speed).
Refresh tokens rotate: using one invalidates it and returns a new one. As Oracle IAM does, a refresh
token is issued only to a grant whose scope asks for ``offline_access``, and it keeps that grant's scope:
a refresh grant may ask for that scope or less, never more (ESI-NOTES 18).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

OFFLINE_ACCESS = "offline_access"


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str | None
    expires_in: int


def scope_words(scope: str | None) -> frozenset[str]:
    """The scopes a space-separated ``scope`` form field asks for."""
    return frozenset((scope or "").split())


class TokenStore:
    """Thread-safe store of the tokens issued so far."""

    def __init__(self, lifetime: int = 3600, clock: Callable[[], float] = time.time) -> None:
        if lifetime <= 0:
            raise ValueError("token lifetime must be a positive number of seconds")
        self.lifetime = int(lifetime)
        self._clock = clock
        self._access: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self._refresh: dict[str, frozenset[str]] = {}  # refresh token -> the scope it was granted
        self._lock = threading.Lock()

    def issue(self, scope: frozenset[str]) -> IssuedTokens:
        """New tokens for a grant of ``scope``; a refresh token only when it holds ``offline_access``."""
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(48) if OFFLINE_ACCESS in scope else None
        now = self._clock()
        with self._lock:
            if len(self._access) > 10_000:  # keep memory flat in long benchmarks
                self._access = {t: exp for t, exp in self._access.items() if exp > now}
            self._access[access] = now + self.lifetime
            if refresh is not None:
                self._refresh[refresh] = scope
        return IssuedTokens(access, refresh, self.lifetime)

    def granted_scope(self, refresh_token: str) -> frozenset[str] | None:
        """The scope a known refresh token was granted; None for an unknown, used or revoked one."""
        with self._lock:
            return self._refresh.get(refresh_token)

    def refresh(self, refresh_token: str) -> IssuedTokens | None:
        """Rotate: a known refresh token gives new tokens (same scope) and becomes invalid; else None."""
        with self._lock:
            scope = self._refresh.pop(refresh_token, None)
        return None if scope is None else self.issue(scope)

    def is_valid(self, access_token: str) -> bool:
        with self._lock:
            expiry = self._access.get(access_token)
        return expiry is not None and self._clock() < expiry

    def expire_access_tokens(self) -> None:
        """Every access token issued so far becomes invalid (refresh tokens still work)."""
        with self._lock:
            self._access.clear()

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            self._refresh.clear()
