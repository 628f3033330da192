"""Oracle IAM stand-in: issues, checks, expires and rotates opaque OAuth tokens.

Access tokens live ``lifetime`` seconds of wall-clock time (never scaled by the simulator speed).
Refresh tokens rotate: using one invalidates it and returns a new one.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


class TokenStore:
    """Thread-safe store of the tokens issued so far."""

    def __init__(self, lifetime: int = 3600, clock: Callable[[], float] = time.time) -> None:
        if lifetime <= 0:
            raise ValueError("token lifetime must be a positive number of seconds")
        self.lifetime = int(lifetime)
        self._clock = clock
        self._access: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self._refresh: set[str] = set()
        self._lock = threading.Lock()

    def issue(self) -> IssuedTokens:
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(48)
        now = self._clock()
        with self._lock:
            if len(self._access) > 10_000:  # keep memory flat in long benchmarks
                self._access = {t: exp for t, exp in self._access.items() if exp > now}
            self._access[access] = now + self.lifetime
            self._refresh.add(refresh)
        return IssuedTokens(access, refresh, self.lifetime)

    def refresh(self, refresh_token: str) -> IssuedTokens | None:
        """Rotate: a known refresh token gives new tokens and becomes invalid; else None."""
        with self._lock:
            if refresh_token not in self._refresh:
                return None
            self._refresh.discard(refresh_token)
        return self.issue()

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
