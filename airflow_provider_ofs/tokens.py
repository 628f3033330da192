"""A per-process cache of IAM access tokens, shared by the sync hook and the async client.

One entry per connection identity (``ConnectionSettings.cache_key``). A token is fetched once under
concurrency: threads queue on a lock, coroutines of one event loop await the same in-flight fetch.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable

from airflow_provider_ofs.protocol import Token
from airflow_provider_ofs.shared_calls import SharedCalls


class TokenCache:
    """Access tokens by connection identity, refreshed ahead of expiry by the caller's fetch function."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._fetches: SharedCalls[str, Token] = SharedCalls()

    def fresh(self, key: str) -> Token | None:
        """The cached token for this identity when it needs no refresh yet."""
        token = self._tokens.get(key)
        return token if token is not None and token.is_fresh() else None

    def get(self, key: str, fetch: Callable[[Token | None], Token]) -> Token:
        """A fresh token, fetching one (from the stale one, when there is one) in at most one thread."""
        token = self.fresh(key)
        if token is not None:
            return token
        with self._lock_for(key):
            token = self.fresh(key)
            if token is None:
                token = self._store(key, fetch(self._tokens.get(key)))
            return token

    async def aget(self, key: str, fetch: Callable[[Token | None], Awaitable[Token]]) -> Token:
        """A fresh token, fetching one at most once for all coroutines of the running loop."""
        token = self.fresh(key)
        if token is not None:
            return token
        return await self._fetches.run(key, lambda: self._afetch(key, fetch))

    def invalidate(self, key: str, refused: Token) -> None:
        """Forget a token that ESI refused, unless another caller already replaced it."""
        with self._guard:
            if self._tokens.get(key) is refused:
                # Keep the refresh token: the next fetch trades it for a new access token.
                self._tokens[key] = Token(
                    access_token=refused.access_token,
                    expires_at=0.0,
                    refresh_token=refused.refresh_token,
                    refresh_at=0.0,
                )

    def clear(self) -> None:
        """Forget every token (tests; a changed connection gets a new key anyway)."""
        with self._guard:
            self._tokens.clear()

    async def _afetch(self, key: str, fetch: Callable[[Token | None], Awaitable[Token]]) -> Token:
        return self._store(key, await fetch(self._tokens.get(key)))

    def _store(self, key: str, token: Token) -> Token:
        with self._guard:
            self._tokens[key] = token
        return token

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


TOKEN_CACHE = TokenCache()
