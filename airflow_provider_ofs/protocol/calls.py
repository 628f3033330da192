"""The requests of the five ESI calls: URL, headers and body, built once for both transports."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from airflow_provider_ofs.arguments import (
    dynamic_param_list,
    join_codes,
    refuse_non_finite,
    require_name,
    wire_batch_type,
)
from airflow_provider_ofs.exceptions import (
    OFSApiError,
    OFSInvalidHeadersError,
)
from airflow_provider_ofs.protocol.settings import ConnectionSettings
from airflow_provider_ofs.run_ids import require_run_id

ESI_PATH = "/SchedulerService/rest-api/v1/external/"
#: Most bytes of one ESI request body (real ones are well under a KiB); a larger one is refused before sending.
MAX_REQUEST_BYTES = 1024 * 1024
HEADER_TENANT = "ofs_tenant_id"
HEADER_SERVICE = "ofs_service_id"
HEADER_WORKSPACE = "ofs_workspace_id"
HEADER_REMOTE_USER = "ofs_remote_user"
HEADER_LOCALE = "locale"


class Verb(str, Enum):
    """The five External Scheduler Interface calls."""

    TRIGGER = "trigger"
    STATUS = "status"
    INTERRUPT = "interrupt"
    RESTART = "restart"
    RERUN = "rerun"


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP POST to send: where, which headers, what body (already encoded).

    Its ``repr`` shows the call and the URL only: headers and body hold credentials and tokens.
    """

    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    verb: str

    def with_bearer(self, token: str) -> HttpRequest:
        """The same request carrying an access token."""
        return HttpRequest(self.url, {**self.headers, "Authorization": f"Bearer {token}"}, self.body, self.verb)


@dataclass(frozen=True)
class HttpResponse:
    """What came back: HTTP status, the headers this module reads, and the raw body."""

    status: int
    body: bytes = field(repr=False)  # a token answer holds tokens
    content_type: str = ""
    retry_after: str | None = None


def esi_headers(settings: ConnectionSettings) -> dict[str, str]:
    """The headers every ESI call carries, except the bearer token."""
    return {
        HEADER_TENANT: settings.tenant_id,
        HEADER_SERVICE: settings.service_id,
        HEADER_WORKSPACE: settings.workspace_id,
        HEADER_REMOTE_USER: settings.remote_user,
        HEADER_LOCALE: settings.locale,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


# Built once (``json.dumps`` builds one per call); NaN and Infinity, which are not JSON, raise ``ValueError``.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _esi_request(settings: ConnectionSettings, verb: Verb, body: Mapping[str, Any]) -> HttpRequest:
    encoded = _COMPACT_JSON.encode(body).encode()
    if len(encoded) > MAX_REQUEST_BYTES:
        raise ValueError(
            f"ESI {verb.value}: the request body would be {len(encoded)} bytes, more than the {MAX_REQUEST_BYTES} "
            f"bytes a request may hold (MAX_REQUEST_BYTES); nothing was sent. Name fewer task codes or send smaller "
            f"parameters."
        )
    return HttpRequest(
        url=settings.base_url + ESI_PATH + verb.value, headers=esi_headers(settings), body=encoded, verb=verb.value
    )


def build_trigger(
    settings: ConnectionSettings,
    batch_name: str,
    batch_type: str = "batch",
    excluded_tasks: str | Iterable[str] | None = None,
    held_tasks: str | Iterable[str] | None = None,
    dynamic_params: str | Mapping[str, Any] | None = None,
    included_tasks: str | Iterable[str] | None = None,
) -> HttpRequest:
    """Build the Execution API call that starts a batch (``batch``) or a batch group (``group``).

    ``dynamic_params``: see ``arguments.dynamic_param_list``; sent in the connection's
    ``dynamic_params_format`` (ESI-NOTES 15). ``includedTasks`` is sent only when ``included_tasks``
    names some (ESI-NOTES 16).
    """
    body: dict[str, Any] = {
        "batchName": require_name("batch_name", batch_name),
        "batchType": wire_batch_type(batch_type),
        "excludedTasks": join_codes("excluded_tasks", excluded_tasks),
        "heldTasks": join_codes("held_tasks", held_tasks),
    }
    included = join_codes("included_tasks", included_tasks)
    if included:
        body["includedTasks"] = included
    param_list = dynamic_param_list(batch_type, dynamic_params)
    if param_list:
        body["dynamicParamList"] = _in_edition_form(settings, batch_type, param_list)
    return _esi_request(settings, Verb.TRIGGER, body)


def _in_edition_form(settings: ConnectionSettings, batch_type: str, param_list: str) -> Any:
    """``dynamicParamList`` as the connection's edition takes it: the encoded string, or the JSON it encodes."""
    try:
        value = json.loads(param_list)
    except ValueError:
        value = None
    refuse_non_finite("dynamic_params", value)  # an encoded string may hold NaN, which json reads but is not JSON
    if settings.dynamic_params_format == "string":
        return param_list
    expected = list if batch_type == "group" else dict
    if not isinstance(value, expected):
        raise ValueError(
            f"dynamic_params must encode a JSON {'list' if batch_type == 'group' else 'object'} for a {batch_type}: "
            f"connection {settings.conn_id!r} sends dynamicParamList as JSON (dynamic_params_format 'object')"
        )
    return value


def build_status(settings: ConnectionSettings, batch_run_id: str, tasks: Sequence[str] | None = None) -> HttpRequest:
    """Build the Execution Status API call, optionally limited to some task codes."""
    body: dict[str, Any] = {"batchRunId": require_run_id("batch_run_id", batch_run_id)}
    if tasks:
        body["tasks"] = list(tasks)
    return _esi_request(settings, Verb.STATUS, body)


#: The run id of ``test_connection``'s status call: one that cannot exist, so that the call changes nothing.
CONNECTION_TEST_RUN_ID = "AIRFLOW_CONNECTION_TEST_NO_SUCH_RUN"


def build_probe(settings: ConnectionSettings) -> HttpRequest:
    """``test_connection``'s status call, for a run id that cannot exist."""
    return build_status(settings, CONNECTION_TEST_RUN_ID)


def probe_verdict(refusal: OFSApiError | None) -> str:
    """What the probe's answer proves: any API answer but -5 (headers refused) shows that the set-up works."""
    if refusal is None:
        return "accepted the token and headers"
    if isinstance(refusal, OFSInvalidHeadersError):
        raise refusal
    return f"accepted the token and headers (a probe run id got code {refusal.code}: {refusal.meaning})"


def build_run_action(settings: ConnectionSettings, verb: Verb, batch_name: str, batch_run_id: str) -> HttpRequest:
    """Build an Interrupt, Restart or Rerun call for one run (``batchRunId`` as every sample writes it)."""
    if verb not in (Verb.INTERRUPT, Verb.RESTART, Verb.RERUN):
        raise ValueError(f"{verb.value} is not a run action")
    body = {
        "batchName": require_name("batch_name", batch_name),
        "batchRunId": require_run_id("batch_run_id", batch_run_id),
    }
    return _esi_request(settings, verb, body)
