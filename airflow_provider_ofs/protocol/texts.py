"""Server-given texts made safe to show: secrets and bearer tokens redacted, control characters removed, length cut."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

# Bearer credentials a server may echo back: whatever follows "Bearer"/"Basic", and JWTs (IAM's tokens).
_CREDENTIAL_TEXT = re.compile(r"(?i)(?<=\bbearer )[^\s\"',;]+|(?<=\bbasic )[^\s\"',;]+|\beyJ[\w-]*\.[\w-]+\.[\w-]*")


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret and anything that looks like a bearer token in a text built from a server answer."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _CREDENTIAL_TEXT.sub("***", text)


#: Most characters kept of one text a server sent (a task code, a status text, a child run id, a detail) where
#: it reaches a log, an error, an XCom, the lineage facet or a metric; the rest is cut and counted.
MAX_SERVER_TEXT = 200


def server_text(value: Any, secrets: Iterable[str] = (), limit: int = MAX_SERVER_TEXT) -> str:
    """A text a server sent, fit to log and publish: the one place such texts pass through.

    Control and other unprintable characters (line breaks, lone surrogates) are removed, secrets and bearer
    tokens are redacted (``redact``), and the text is cut to ``limit`` characters, saying how many were cut.
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:  # the usual case, and the same few texts poll after poll: remembered
        return _short_server_text(text, tuple(secrets))
    text = redact(_printable(text), secrets)
    return f"{text[:limit]}...(+{len(text) - limit} characters)" if len(text) > limit else text


@lru_cache(maxsize=2048)
def _short_server_text(text: str, secrets: tuple[str, ...]) -> str:
    return redact(_printable(text), secrets)


def _printable(text: str) -> str:
    return text if text.isprintable() else "".join(char for char in text if char.isprintable())
