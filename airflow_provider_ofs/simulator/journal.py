"""Journal of the requests the simulator answered, for assertions in tests and benchmarks.

It records what happened, never who asked: no header, credential or token is ever stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_ofs.simulator.engine import RunView


@dataclass(frozen=True)
class JournalEntry:
    """One answered (or deliberately unanswered) request."""

    verb: str
    batch: str | None = None
    run_id: str | None = None
    http_status: int | None = None
    api_status_code: str | None = None
    fault: str | None = None
    grant: str | None = None
    at: float = field(default_factory=time.time)
    #: The run as the answer showed it (a processed ESI call), so that what a client saw can be told afterwards.
    answered: RunView | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Journal:
    """Thread-safe list of ``JournalEntry`` with counting helpers."""

    def __init__(self) -> None:
        self._entries: list[JournalEntry] = []
        self._lock = threading.Lock()

    def record(self, entry: JournalEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(self, verb: str | None = None, batch: str | None = None) -> list[JournalEntry]:
        """A copy of the entries, optionally only those of one verb and/or batch."""
        with self._lock:
            entries = list(self._entries)
        return [e for e in entries if (verb is None or e.verb == verb) and (batch is None or e.batch == batch)]

    def count(self, verb: str, batch: str | None = None) -> int:
        """Number of requests of ``verb`` (for ``batch`` when given), faults included."""
        return len(self.entries(verb, batch))

    def runs_created(self, batch: str | None = None) -> int:
        """Number of runs created by trigger and rerun calls that were processed.

        A processed call whose answer was lost to a fault (``reset_after``, ``slow``) still counts:
        that is exactly the case where a client might create a second run by retrying.
        """
        return sum(
            1
            for e in self.entries(batch=batch)
            if e.verb in ("trigger", "rerun") and e.api_status_code == "0" and e.run_id
        )

    def token_requests(self, grant: str | None = None) -> int:
        """Number of calls to the token endpoint (for one ``grant_type`` when given)."""
        return sum(1 for e in self.entries("token") if grant is None or e.grant == grant)

    def as_list(self) -> list[dict[str, object]]:
        return [e.as_dict() for e in self.entries()]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries())
