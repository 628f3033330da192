"""Reading ESI's answers: the envelope, the API codes, run ids and run states, and the status poll."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_ofs.exceptions import (
    API_ERRORS,
    FailureKind,
    OFSOutcomeUnknownError,
    OFSTransportError,
    OFSUnknownCodeError,
)
from airflow_provider_ofs.protocol.calls import HttpResponse, build_status
from airflow_provider_ofs.protocol.retry_rule import WAYS_ON, describe_window, parse_retry_after
from airflow_provider_ofs.protocol.settings import ConnectionSettings
from airflow_provider_ofs.protocol.texts import MAX_SERVER_TEXT, redact, server_text
from airflow_provider_ofs.run_ids import run_id_problem
from airflow_provider_ofs.states import RunState, RunStatus, TaskStatus

#: Most bytes read of one ESI or IAM answer (real ones are a few KiB); a longer answer is refused unread.
MAX_ANSWER_BYTES = 4 * 1024 * 1024


def decode_answer(response: HttpResponse, verb: str, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """Turn an HTTP answer into the API envelope, or raise the error its HTTP status and body call for.

    Decides from the body's ``statusCode`` when the body is JSON, from the HTTP status otherwise
    (ESI-NOTES 3). HTTP 401 is left to the caller, which refreshes the token once (ESI-NOTES 13).
    Server text quoted in an error is ``redact``-ed of ``secrets`` (the connection's) and bearer tokens.
    """
    envelope = json_object(response.body)
    if envelope is not None and "statusCode" in envelope:
        check_api_code(envelope, verb, secrets)
        if response.status >= 400:
            raise OFSTransportError(
                f"ESI {verb}: HTTP {response.status} with a success status in the body",
                kind=_kind_for_http_status(response.status),
                http_status=response.status,
            )
        return envelope
    if response.status >= 400:
        raise http_error(f"ESI {verb}", response)
    raise OFSTransportError(
        f"ESI {verb}: HTTP {response.status} answer is not the documented JSON envelope ({_describe_body(response)})",
        kind=FailureKind.MALFORMED,
        http_status=response.status,
    )


def http_error(what: str, response: HttpResponse) -> OFSTransportError:
    """The error for an HTTP error status with no usable API answer."""
    return OFSTransportError(
        f"{what}: HTTP {response.status} ({_describe_body(response)})",
        kind=_kind_for_http_status(response.status),
        http_status=response.status,
        retry_after=parse_retry_after(response.retry_after),
    )


def _kind_for_http_status(status: int) -> FailureKind:
    if status == 429:
        return FailureKind.THROTTLED
    if status == 503:
        return FailureKind.UNAVAILABLE
    if status >= 500:
        return FailureKind.SERVER_ERROR
    return FailureKind.HTTP_ERROR


def _describe_body(response: HttpResponse) -> str:
    kind = response.content_type.split(";")[0].strip() or "no content type"
    return f"{kind}, {len(response.body)} bytes"


def json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        return None
    return value if isinstance(value, dict) else None


_CODE_TEXT = re.compile(r"-?[0-9]+")


def parse_code(value: Any, what: str) -> int:
    """Read a code sent as a string or a number (ESI-NOTES 1)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _CODE_TEXT.fullmatch(value.strip()):
        return int(value.strip())  # ASCII digits only: int() would also read "0_0" or Arabic-Indic digits
    raise OFSUnknownCodeError(f"{what} is not a code: {server_text(repr(value), limit=MAX_SERVER_TEXT // 4)}")


def check_api_code(envelope: Mapping[str, Any], verb: str, secrets: Iterable[str] = ()) -> None:
    """Raise the documented error when the API outcome (top-level ``statusCode``) is not success."""
    code = parse_code(envelope.get("statusCode"), f"ESI {verb}: statusCode")
    if code == 0:
        return
    detail = _server_detail(envelope, tuple(secrets))
    error_class = API_ERRORS.get(code)
    if error_class is None:
        raise OFSUnknownCodeError(
            f"ESI {verb} answered statusCode {code}, which the guide does not document{detail}",
            code=code,
            verb=verb,
        )
    raise error_class(f"ESI {verb} failed with code {code} ({error_class.meaning}){detail}", code=code, verb=verb)


def _server_detail(envelope: Mapping[str, Any], secrets: tuple[str, ...]) -> str:
    texts: list[str] = []
    for key in ("summary", "details"):
        text = server_text(envelope.get(key) or "", secrets).strip()
        if text and not any(text in earlier for earlier in texts):  # servers often repeat the summary
            texts.append(text)
    return f": {' / '.join(texts)}" if texts else ""


#: How many characters of an unusable value an error quotes.
QUOTED_VALUE_LENGTH = 120


def quote_value(value: Any, secrets: Iterable[str] = ()) -> str:
    """A value from an answer or a store as an error quotes it: redacted, on one printable line, cut short."""
    text = value if isinstance(value, str) else repr(value)
    text = redact(text, secrets)
    cut = len(text) > QUOTED_VALUE_LENGTH
    quoted = ascii(text[:QUOTED_VALUE_LENGTH])  # escapes line breaks, control characters and lone surrogates
    return f"{quoted}... ({len(text)} characters)" if cut else quoted


def run_id_from(envelope: Mapping[str, Any], verb: str, subject: str = "", secrets: Iterable[str] = ()) -> str:
    """The ``batchRunId`` of a successful trigger, restart or rerun answer, checked by ``run_id_problem``.

    OFS accepted the call (``statusCode`` 0), so an unusable id is an ``OFSOutcomeUnknownError`` (no retry
    sends the call again) quoting what came back, ``redact``-ed of ``secrets``, never a retryable error.
    """
    value = envelope.get("batchRunId")
    problem = run_id_problem(value)
    if problem is None:
        return str(value).strip()
    what = f"ESI {verb}{f' of {subject}' if subject else ''}"
    came_back = "no batchRunId" if "batchRunId" not in envelope else f"batchRunId {quote_value(value, secrets)}"
    happened = f"{what} answered success (statusCode 0) with {came_back}, which is not a run id ({problem})"
    raise accepted_unrecorded(verb, subject, happened)


def accepted_then_failed(verb: str, subject: str, run_id: str, error: BaseException) -> OFSOutcomeUnknownError:
    """The error for a task that failed after OFS accepted its call but before it kept the run id for a retry."""
    happened = (
        f"ESI {verb} of {subject} was accepted: OFS run {run_id}. The task then failed before it kept the run id "
        f"for Airflow's retries ({type(error).__name__}: {quote_value(str(error))})"
    )
    return accepted_unrecorded(verb, subject, happened, run_id)


def accepted_unrecorded(verb: str, subject: str, happened: str, run_id: str | None = None) -> OFSOutcomeUnknownError:
    """OFS accepted a call whose run the task could not keep: never sent again, and the task is not retried."""
    if run_id is not None:
        ways_on = f"Watch OFS run {run_id} with OFSBatchRunSensor; clear this task only to {verb} anew."
    else:
        ways_on = WAYS_ON.get(verb, "Check the OFS Batch Monitor before trying again.")
        ways_on = ways_on.format(subject=subject or "the batch or run it named", window=describe_window(None))
    return OFSOutcomeUnknownError(
        f"{happened}. OFS accepted the request, so it is not sent again, and the task is not retried by Airflow "
        f"either: a new try would act twice. {ways_on}"
    )


# The code texts every status answer is made of (a poll reads one per task).
_STATE_BY_TEXT = {str(state.value): state for state in RunState}


def parse_state(value: Any, what: str) -> RunState:
    """A run or task state from its code; an undocumented code is an error that names it (ESI-NOTES 11)."""
    code = parse_code(value, what)
    try:
        return RunState(code)
    except ValueError:
        raise OFSUnknownCodeError(f"{what} is {code}, which is not a documented run state", code=code) from None


def parse_status(envelope: Mapping[str, Any], batch_run_id: str, secrets: Iterable[str] = ()) -> RunStatus:
    """Read a successful status answer: the run's state, its tasks (batch) or child runs (group).

    Every text of it (run ids, task codes, status texts) passes through ``server_text`` with ``secrets``.
    """
    run_id = envelope.get("batchRunId") or batch_run_id
    if not isinstance(run_id, str):
        raise OFSUnknownCodeError(f"ESI status of {batch_run_id}: batchRunId is not text: {server_text(repr(run_id))}")
    secrets = tuple(secrets)
    run_id = server_text(run_id, secrets)
    where = f"ESI status of run {run_id}"
    if "batchStatusCode" not in envelope:
        raise OFSTransportError(f"{where}: the answer has no batchStatusCode", kind=FailureKind.MALFORMED)
    tasks = [
        TaskStatus(
            *_entry(item, "taskCode", "statusCode", where, "task", secrets),
            status_text=_text(item, "taskStatus", secrets),
        )
        for item in _list(envelope, "taskStatusList", where)
    ]
    children = [
        RunStatus(
            *_entry(item, "batchRunId", "batchStatusCode", where, "child run", secrets),
            state_text=_text(item, "batchStatus", secrets),
        )
        for item in _list(envelope, "batchList", where)
    ]
    return RunStatus(
        run_id=run_id,
        state=_state(envelope["batchStatusCode"], where, "batchStatusCode"),
        tasks=tasks,
        children=children,
        state_text=_text(envelope, "batchStatus", secrets),
    )


def _state(code: Any, where: str, *what: object) -> RunState:
    # One lookup for the code texts answers are made of; the message naming the code is built only when needed.
    state = _STATE_BY_TEXT.get(code) if type(code) is str else None
    return state if state is not None else parse_state(code, f"{where}: {' '.join(map(str, what))}")


def _entry(
    item: Mapping[str, Any], name_key: str, code_key: str, where: str, kind: str, secrets: tuple[str, ...]
) -> tuple[str, RunState]:
    """The name (``server_text``) and state of one task or child run of a status answer."""
    try:
        name, code = item[name_key], item[code_key]
    except KeyError as missing:
        raise OFSTransportError(f"{where}: an entry lacks {missing.args[0]}", kind=FailureKind.MALFORMED) from None
    name = server_text(name, secrets)
    return name, _state(code, where, kind, name)


def _text(item: Mapping[str, Any], key: str, secrets: tuple[str, ...]) -> str:
    return server_text(item.get(key) or "", secrets).strip()


def _list(envelope: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    value = envelope.get(key)
    if value is None:
        return []  # a group answer may leave taskStatusList out (ESI-NOTES 12)
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise OFSTransportError(f"{where}: {key} is not a list of objects", kind=FailureKind.MALFORMED)
    return value


class StatusPoll:
    """The status call of one run, built once for the many polls of a watch, and the reading of its answers.

    A run mostly answers the same thing poll after poll: an answer equal to the previous one (same HTTP
    status, headers read and bytes) reads as the previous ``RunStatus`` without being decoded again. Only
    the last answer that read well is kept.
    """

    def __init__(self, settings: ConnectionSettings, batch_run_id: str, tasks: Sequence[str] | None = None) -> None:
        self.batch_run_id = batch_run_id
        self._secrets = settings.secrets
        self._tasks = tuple(tasks or ())
        self.request = build_status(settings, batch_run_id, tasks)
        self._last: tuple[HttpResponse, RunStatus] | None = None

    def is_for(self, batch_run_id: str, tasks: Sequence[str] | None) -> bool:
        """Whether this is the call for that run and those tasks."""
        return batch_run_id == self.batch_run_id and tuple(tasks or ()) == self._tasks

    def read(self, response: HttpResponse, verb: str) -> RunStatus:
        """The status an answer reports, or the error it calls for (``decode_answer``, ``parse_status``)."""
        last = self._last
        if last is not None and last[0] == response:
            return last[1]
        status = parse_status(decode_answer(response, verb, self._secrets), self.batch_run_id, self._secrets)
        self._last = (response, status)
        return status
