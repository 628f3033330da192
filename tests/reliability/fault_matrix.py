"""The fault matrix of the retry rules: each ESI call, each simulator fault, and how the call must end.

Pure data and rendering (no I/O): the tests in ``test_fault_matrix.py`` play every cell against the
simulator and compare what happened with ``expected``; ``render`` draws the table that the test run
prints and that ``docs/fault-matrix.md`` keeps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

#: Connection extras of every cell: fast retries, a short timeout, and the simulator's "slow" beyond it.
RETRY_ATTEMPTS = 5
CONNECTION_EXTRAS = {"timeout": 0.5, "retry_wait": 0.02, "retry_attempts": RETRY_ATTEMPTS}
SLOW_SECONDS = 1.0

DOCS_BEGIN = "<!-- fault-matrix:begin (generated from tests/reliability/fault_matrix.py) -->"
DOCS_END = "<!-- fault-matrix:end -->"


@dataclass(frozen=True)
class Call:
    """One row family of the matrix: an ESI verb, on the sync hook path or the deferrable (async) path."""

    verb: str
    mode: str  # "sync" (OFSSchedulerHook methods) or "deferrable" (OFSBatchRunTrigger / aget_status, ainterrupt)

    @property
    def label(self) -> str:
        return f"{self.verb} ({self.mode})"

    @property
    def key(self) -> str:
        return f"{self.verb}-{self.mode}"

    @property
    def changes_runs(self) -> bool:
        """Whether the call creates or changes a run (everything but a status poll)."""
        return self.verb != "status"


@dataclass(frozen=True)
class Fault:
    """What the simulator does wrong for one cell.

    :param key: short id (pytest id).
    :param label: the fault as the table names it.
    :param answers: scripted answers to the verb's next calls (see ``simulator.faults``).
    :param token_answers: scripted answers to the token endpoint's next calls (the cached token is dropped first).
    :param expire_tokens: every issued access token stops working (ESI answers 401).
    :param revoke_refresh_tokens: every issued refresh token stops working (IAM answers invalid_grant).
    :param processed: the server acts on the request although the client sees the fault.
    :param never_processed_and_says_so: the client can tell that the request was not acted on (the retry rules).
    """

    key: str
    label: str
    answers: tuple[int | str, ...] = ()
    token_answers: tuple[int | str, ...] = ()
    expire_tokens: bool = False
    revoke_refresh_tokens: bool = False
    processed: bool = False
    never_processed_and_says_so: bool = False


class Outcome(str, Enum):
    """How a call ended, as the table writes it."""

    RECOVERED = "recovered"
    OUTCOME_UNKNOWN = "failed: may have been processed"
    NO_TOKEN = "failed: no token"
    NOT_REACHED = "failed: not reached"
    CONFIGURATION = "failed: configuration"


@dataclass(frozen=True)
class Result:
    """What a cell produced: the outcome and how many runs the call created or changed on the server."""

    outcome: str
    runs: int
    detail: str = field(default="", compare=False)


CALLS = [
    Call("trigger", "sync"),
    Call("status", "sync"),
    Call("status", "deferrable"),
    Call("interrupt", "sync"),
    Call("interrupt", "deferrable"),
    Call("restart", "sync"),
    Call("rerun", "sync"),
]

FAULTS = [
    Fault("http500", "HTTP 500", answers=(500,)),
    Fault("http502", "HTTP 502 (HTML from a gateway)", answers=(502,)),
    Fault("http503", "HTTP 503 (HTML from a gateway)", answers=(503,), never_processed_and_says_so=True),
    Fault("http504", "HTTP 504 (HTML from a gateway)", answers=(504,)),
    Fault("http429", "HTTP 429 with Retry-After: 1", answers=(429,), never_processed_and_says_so=True),
    Fault("reset", "connection dropped before processing", answers=("reset",)),
    Fault("reset_after", "connection dropped after processing", answers=("reset_after",), processed=True),
    Fault("slow", "answer slower than the timeout", answers=("slow",), processed=True),
    Fault("html", "HTML page with HTTP 200", answers=("html",)),
    Fault("garbage", "non-JSON body with HTTP 200", answers=("garbage",)),
    Fault(
        "token_down",
        "token endpoint down for a while (503, reset, 502)",
        token_answers=(503, "reset", 502),
        never_processed_and_says_so=True,
    ),
    Fault(
        "token_gone",
        f"token endpoint down for the whole retry budget ({RETRY_ATTEMPTS} x 503)",
        token_answers=(503,) * RETRY_ATTEMPTS,
        never_processed_and_says_so=True,
    ),
    Fault(
        "token_expired", "token expired mid-run (ESI answers 401)", expire_tokens=True, never_processed_and_says_so=True
    ),
    Fault(
        "refresh_refused",
        "token expired and refresh token refused",
        expire_tokens=True,
        revoke_refresh_tokens=True,
        never_processed_and_says_so=True,
    ),
]


def expected(call: Call, fault: Fault) -> Result:
    """The retry rules for one cell.

    A status poll is retried on every transient failure. A call that creates or changes a run is
    repeated only when the request certainly was not processed (429, 503, a token problem before the
    call was sent); otherwise it fails saying that it may have been processed, and is not repeated.
    Without a token nothing is sent at all. Either way a call creates or changes at most one run.
    """
    if fault.key == "token_gone":
        return Result(Outcome.NO_TOKEN.value, 0)
    return by_the_rules(call, processed=fault.processed, repeatable=fault.never_processed_and_says_so)


def by_the_rules(call: Call, *, processed: bool, repeatable: bool) -> Result:
    """A transient fault's cell: a status poll, or a call the client may repeat, recovers; the others fail
    saying that they may have been processed, and changed a run when the server acted."""
    runs = 1 if call.changes_runs else 0
    if not call.changes_runs or repeatable:
        return Result(Outcome.RECOVERED.value, runs)
    return Result(Outcome.OUTCOME_UNKNOWN.value, 1 if processed else 0)


def cell_text(call: Call, result: Result) -> str:
    """A cell as the table shows it: the outcome, and the runs created or changed when the call changes runs."""
    if not call.changes_runs:
        return result.outcome
    return f"{result.outcome} · {result.runs} run{'' if result.runs == 1 else 's'}"


def render(
    results: Mapping[tuple[str, str], Result],
    *,
    mark_unexpected: bool = False,
    rows: Sequence[tuple[str, str]] | None = None,
) -> str:
    """The matrix as a Markdown table: one line per fault, one column per call; missing cells show ``not run``.

    ``rows`` (label, result key) draws another table of the same calls: the proxy tables.
    """
    if rows is None:
        rows = [(fault.label, fault.key) for fault in FAULTS]
    header = ["fault", *(call.label for call in CALLS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for label, key in rows:
        cells = [label]
        for call in CALLS:
            result = results.get((call.key, key))
            if result is None:
                cells.append("not run")
                continue
            text = cell_text(call, result)
            wanted = expected_by_key(call, key)
            if mark_unexpected and result != wanted:
                text = f"**{text}** (expected: {cell_text(call, wanted)})"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def expected_table() -> str:
    """The table of ``expected`` for every cell (what ``docs/fault-matrix.md`` shows)."""
    return render({(call.key, fault.key): expected(call, fault) for call in CALLS for fault in FAULTS})


# ------------------------------------------------------------------------- across Airflow's tries: OFS accepted

ACCEPTED_BEGIN = "<!-- accepted-matrix:begin (generated from tests/reliability/fault_matrix.py) -->"
ACCEPTED_END = "<!-- accepted-matrix:end -->"
#: The column's name: OFS answered success (statusCode 0), and then the task failed before it kept the run.
ACCEPTED_COLUMN = "OFS accepted, then the task failed"


@dataclass(frozen=True)
class AcceptedFault:
    """What follows OFS's success answer: a ``batchRunId`` the simulator's ``bad_run_id:<shape>`` fault shapes."""

    shape: str
    label: str

    @property
    def answer(self) -> str:
        """The simulator fault answer (``simulator.faults.BAD_RUN_IDS``)."""
        return f"bad_run_id:{self.shape}"


ACCEPTED_FAULTS = [
    AcceptedFault("missing", "success without batchRunId"),
    AcceptedFault("number", "batchRunId a number"),
    AcceptedFault("blank", "batchRunId blank"),
    AcceptedFault("newline", "batchRunId with a line break (a forged log line)"),
    AcceptedFault("surrogate", "batchRunId with a lone surrogate (breaks the log line)"),
    AcceptedFault("huge", "batchRunId a million characters long"),
]
#: The calls that start or change a run, as an operator makes them in a task with ``retries=2``.
ACCEPTED_CALLS = [
    Call("trigger", "sync"),
    Call("trigger", "deferrable"),
    Call("restart", "sync"),
    Call("rerun", "sync"),
]


@dataclass(frozen=True)
class TriesResult:
    """What all of a task's tries together did: how the task ended, in how many tries, and how often OFS acted."""

    state: str
    tries: int
    acted: int

    @property
    def duplicates(self) -> int:
        """Runs created or changed beyond the one the task asked for."""
        return max(0, self.acted - 1)


def accepted_expected(call: Call, fault: AcceptedFault) -> TriesResult:
    """Once OFS accepted the call, no try sends it again: the task fails at once, and OFS acted exactly once."""
    return TriesResult("failed", 1, 1)


def tries_text(result: TriesResult) -> str:
    """A cell of the across-tries table."""
    tries = f"{result.tries} tr{'y' if result.tries == 1 else 'ies'}"
    return f"{result.state}, {tries} · {result.duplicates} duplicate runs"


def render_accepted(results: Mapping[tuple[str, str], TriesResult]) -> str:
    """The "OFS accepted, then the task failed" column as a Markdown table: one line per answer, one column per call."""
    header = [ACCEPTED_COLUMN, *(call.label for call in ACCEPTED_CALLS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for fault in ACCEPTED_FAULTS:
        cells = [fault.label]
        for call in ACCEPTED_CALLS:
            result = results.get((call.key, fault.shape))
            cells.append("not run" if result is None else tries_text(result))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def accepted_table() -> str:
    """The table of ``accepted_expected`` for every cell (what ``docs/fault-matrix.md`` shows)."""
    return render_accepted(
        {
            (call.key, fault.shape): accepted_expected(call, fault)
            for call in ACCEPTED_CALLS
            for fault in ACCEPTED_FAULTS
        }
    )


# ------------------------------------------------------------------------------------------ through a proxy

PROXY_BEGIN = "<!-- proxy-matrix:begin (generated from tests/reliability/fault_matrix.py) -->"
PROXY_END = "<!-- proxy-matrix:end -->"


@dataclass(frozen=True)
class Transport:
    """How the calls reach ESI through a proxy: forwarded (an ``http://`` ESI) or tunnelled (CONNECT, ``https://``)."""

    key: str
    label: str
    tls: bool


TRANSPORTS = [
    Transport("forward", "forward proxy (http:// ESI: the proxy takes the request and passes it on)", tls=False),
    Transport("connect", "CONNECT proxy (https:// ESI: the proxy opens a tunnel, then carries bytes)", tls=True),
]


@dataclass(frozen=True)
class ProxyCase:
    """One proxy fault on one transport.

    :param proxy: what the proxy does to its next request or tunnel (``ForwardProxy.faults``).
    :param service: what the simulator does to the verb's next call (through a tunnel, the proxy only
        carries bytes: a drop after the service acted is the service's connection dropping).
    :param processed: the service acts on the call although the client sees the fault.
    :param nothing_sent: the client can tell that nothing reached the service (a CONNECT refused with a
        status), so even a call that changes a run is repeated.
    """

    proxy: tuple[int | str, ...] = ()
    service: tuple[int | str, ...] = ()
    processed: bool = False
    nothing_sent: bool = False


@dataclass(frozen=True)
class ProxyFault:
    """A row of the proxy tables: what goes wrong at the proxy, played on both transports.

    :param ends: how every call ends whatever the retry rules (the proxy is down, or wants credentials).
    :param proxy_down: the connection's proxy is a port where nothing listens.
    :param credentials: the proxy wants these, and the connection's proxy URL has none (407).
    """

    key: str
    label: str
    forward: ProxyCase = ProxyCase()
    connect: ProxyCase = ProxyCase()
    ends: Outcome | None = None
    proxy_down: bool = False
    credentials: bool = False

    def case(self, transport: Transport) -> ProxyCase:
        return self.connect if transport.tls else self.forward


PROXY_FAULTS = [
    ProxyFault("down", "proxy down (connection refused)", ends=Outcome.NOT_REACHED, proxy_down=True),
    ProxyFault("auth", "proxy wants credentials (HTTP 407)", ends=Outcome.CONFIGURATION, credentials=True),
    ProxyFault(
        "drop_before",
        "proxy drops the connection before passing the call on",
        forward=ProxyCase(proxy=("drop_before",)),
        connect=ProxyCase(proxy=("drop_before",)),  # during CONNECT; neither client tells it from a later drop
    ),
    ProxyFault(
        "drop_after",
        "proxy drops the connection after passing the call on (ESI acted)",
        forward=ProxyCase(proxy=("drop_after",), processed=True),
        connect=ProxyCase(service=("reset_after",), processed=True),
    ),
    ProxyFault(
        "http502",
        "proxy answers HTTP 502 (forward: instead of the answer; CONNECT: no tunnel)",
        forward=ProxyCase(proxy=(502,)),
        connect=ProxyCase(proxy=(502,), nothing_sent=True),
    ),
    ProxyFault(
        "http504",
        "proxy answers HTTP 504 (forward: after passing the call on, ESI acted; CONNECT: no tunnel)",
        forward=ProxyCase(proxy=("504_after",), processed=True),
        connect=ProxyCase(proxy=(504,), nothing_sent=True),
    ),
]


def proxy_key(transport: Transport, fault: ProxyFault) -> str:
    """The result key of a proxy cell (the fault's place in ``render``'s results)."""
    return f"{transport.key}:{fault.key}"


def proxy_expected(call: Call, transport: Transport, fault: ProxyFault) -> Result:
    """The retry rules through a proxy: only a proxy never reached or a refused CONNECT proves nothing was sent.

    A proxy down fails every call as not reached (after the retries; nothing was sent, so an Airflow retry
    may send it again); a 407 fails it as a configuration error, not retried.
    """
    if fault.ends is not None:
        return Result(fault.ends.value, 0)
    case = fault.case(transport)
    return by_the_rules(call, processed=case.processed, repeatable=case.nothing_sent)


def proxy_rows(transport: Transport) -> list[tuple[str, str]]:
    """The rows of one transport's table, for ``render``."""
    return [(fault.label, proxy_key(transport, fault)) for fault in PROXY_FAULTS]


def proxy_tables(results: Mapping[tuple[str, str], Result] | None = None, *, mark_unexpected: bool = False) -> str:
    """One table per transport: observed ``results``, or ``proxy_expected`` for every cell (the docs)."""
    if results is None:
        results = {
            (call.key, proxy_key(transport, fault)): proxy_expected(call, transport, fault)
            for transport in TRANSPORTS
            for fault in PROXY_FAULTS
            for call in CALLS
        }
    return "\n\n".join(
        f"**{transport.label}**\n\n" + render(results, mark_unexpected=mark_unexpected, rows=proxy_rows(transport))
        for transport in TRANSPORTS
    )


def expected_by_key(call: Call, key: str) -> Result:
    """The expected result of a cell, direct (a fault key) or through a proxy (``proxy_key``)."""
    transport_key, _, fault_key = key.rpartition(":")
    if not transport_key:
        return expected(call, next(fault for fault in FAULTS if fault.key == key))
    transport = next(t for t in TRANSPORTS if t.key == transport_key)
    return proxy_expected(call, transport, next(fault for fault in PROXY_FAULTS if fault.key == fault_key))
