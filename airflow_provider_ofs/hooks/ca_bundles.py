"""The async path's TLS contexts for CA bundle files, rebuilt when a file's content changes.

A renewed bundle is written at the same path, possibly with the same size and modification time, so
a bundle is told apart by its bytes. Reading the file on every poll would cost a system call or two per
poll: a bundle is read when a client makes its first call (a trigger started after a renewal uses the
new bundle), and otherwise at most once per ``RECHECK_SECONDS`` for all the clients of the process.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Seconds the clients of a process use a loaded CA bundle before its file is read again.
RECHECK_SECONDS = 5.0
#: Most CA bundle files whose context a process keeps (one per distinct ``verify`` path).
MAX_BUNDLES = 16


@dataclass
class _Loaded:
    """A bundle's bytes, the context loaded from them, and when the file was last read (monotonic)."""

    content: bytes
    context: ssl.SSLContext
    read_at: float


class CaBundles:
    """TLS contexts per CA bundle path, each rebuilt when the file's bytes differ from those it was built from."""

    def __init__(self, recheck_seconds: float = RECHECK_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.recheck_seconds = recheck_seconds
        self._clock = clock
        self._loaded: dict[str, _Loaded] = {}

    def context(self, path: str, *, reread: bool = False) -> ssl.SSLContext:
        """The context that verifies with the bundle at ``path``; ``reread`` reads the file whatever its age.

        Raises ``OSError`` when the file cannot be read, and ``ssl.SSLError`` when it holds no usable PEM.
        """
        loaded = self._loaded.get(path)
        now = self._clock()
        if loaded is not None and not reread and now - loaded.read_at < self.recheck_seconds:
            return loaded.context
        with open(path, "rb") as file:
            content = file.read()
        if loaded is not None and content == loaded.content:
            loaded.read_at = now
            return loaded.context
        # Loaded from the path, as the sync path does: should the file change between the read above and
        # this load, the next read sees bytes that differ from ``content`` and loads it again.
        loaded = _Loaded(content, ssl.create_default_context(cafile=path), now)
        self._loaded.pop(path, None)
        while len(self._loaded) >= MAX_BUNDLES:
            del self._loaded[next(iter(self._loaded))]
        self._loaded[path] = loaded
        return loaded.context


#: The process's CA bundles, shared by every async client.
CA_BUNDLES = CaBundles()
