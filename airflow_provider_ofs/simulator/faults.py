"""Fault injection: scripted bad answers, served in order to matching calls.

A rule names a verb (``trigger``, ``status``, ``interrupt``, ``restart``, ``rerun`` or ``token``),
optionally a batch or group (for status/interrupt/restart/rerun the batch is found through the run
id), and a list of answers. Each matching call consumes one answer; when a rule is used up the
simulator behaves normally again. Answers:

- an int HTTP status (e.g. 500, 502, 503, 504, or 429: with ``Retry-After: 1`` from ESI, without one from
  the token endpoint, as Oracle IAM throttles), request not processed;
- ``"reset"``: the connection is dropped without an answer, request not processed;
- ``"reset_after"``: the request IS processed, then the connection is dropped (the client cannot know);
- ``"slow"``: the request is processed, the answer comes only after ``slow_seconds``;
- ``"html"``: an HTML error page with status 200, request not processed;
- ``"garbage"``: status 200 with a body that is not JSON, request not processed;
- ``"api_failure"``: status 200 with the ESI envelope of ``statusCode`` ``"-1"`` (Failure, ESI-NOTES 14),
  request not processed;
- ``"bad_run_id:<shape>"``: the request IS processed (the run exists) and the answer is a success, but its
  ``batchRunId`` is unusable, as ``BAD_RUN_IDS`` shapes it: ``missing``, ``number``, ``blank``, ``newline``,
  ``surrogate`` (a lone UTF-16 surrogate) or ``huge`` (a million characters);
- ``"pass"``: behave normally for this one call (lets a script skip calls).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

VERBS = ("trigger", "status", "interrupt", "restart", "rerun", "token")
#: The ``batchRunId`` a ``bad_run_id:<shape>`` answer carries instead of the run's id (``MISSING``: none at all).
MISSING = object()
BAD_RUN_IDS: dict[str, object] = {
    "missing": MISSING,
    "number": 20260131001,
    "blank": "  ",
    "newline": "RUN_1\nINFO - Run RUN_1 succeeded",
    "surrogate": "RUN_\ud800",
    "huge": "R" * 1_000_000,
}
BAD_RUN_ID_KINDS = tuple(f"bad_run_id:{shape}" for shape in BAD_RUN_IDS)
KINDS = ("reset", "reset_after", "slow", "html", "garbage", "api_failure", "pass", *BAD_RUN_ID_KINDS)
# Answers that still let the request be processed (the state changes).
PROCESSED_KINDS = frozenset({"reset_after", "slow", "pass", *BAD_RUN_ID_KINDS})

FaultAnswer = int | str


@dataclass
class FaultRule:
    """Answers still to serve to calls of ``verb`` (for ``batch``, or any batch when None)."""

    verb: str
    answers: deque[FaultAnswer]
    batch: str | None = None

    def matches(self, verb: str, batch: str | None) -> bool:
        return self.verb == verb and bool(self.answers) and (self.batch is None or self.batch == batch)


def parse_answer(answer: object) -> FaultAnswer:
    """Validate one answer: an HTTP status 400-599 or one of ``KINDS``."""
    if isinstance(answer, bool):
        raise ValueError(f"fault answer {answer!r} is neither an HTTP status nor one of {KINDS}")
    if isinstance(answer, int):
        if not 400 <= answer <= 599:
            raise ValueError(f"fault answer {answer} must be an HTTP error status between 400 and 599")
        return answer
    if isinstance(answer, str):
        if answer.isdigit():
            return parse_answer(int(answer))
        if answer in KINDS:
            return answer
    raise ValueError(f"fault answer {answer!r} is neither an HTTP status nor one of {KINDS}")


def parse_fault_rule(verb: object, answers: object, batch: object = None) -> FaultRule:
    """Validate a rule given as loose values (catalogue, admin endpoint, ``add_fault``)."""
    if verb not in VERBS:
        raise ValueError(f"fault verb {verb!r} must be one of {VERBS}")
    if isinstance(answers, (str, int)) or not isinstance(answers, Iterable):
        raise ValueError("fault 'answers' must be a list")
    parsed = deque(parse_answer(answer) for answer in answers)
    if not parsed:
        raise ValueError("fault 'answers' must not be empty")
    if batch is not None and not isinstance(batch, str):
        raise ValueError(f"fault batch {batch!r} must be a string")
    if verb == "token" and batch is not None:
        raise ValueError("a 'token' fault cannot name a batch")
    return FaultRule(verb=str(verb), answers=parsed, batch=batch)


@dataclass
class FaultPlan:
    """The armed rules; thread-safe. The first matching rule with answers left serves the call."""

    _rules: list[FaultRule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(FaultRule(rule.verb, deque(rule.answers), rule.batch))

    def take(self, verb: str, batch: str | None) -> FaultAnswer | None:
        """The next answer for this call, or None to behave normally."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(verb, batch):
                    answer = rule.answers.popleft()
                    self._rules = [r for r in self._rules if r.answers]
                    return answer
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pending(self) -> list[dict[str, object]]:
        """The answers not served yet, for the admin endpoint."""
        with self._lock:
            return [{"verb": r.verb, "batch": r.batch, "answers": list(r.answers)} for r in self._rules]
