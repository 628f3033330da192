"""The pure, I/O-free core of the ESI protocol, one module per job; this package exports each public name.

Both the synchronous hook (``requests``) and the asynchronous client (``aiohttp``) send what this core builds
and hand back what they received; every rule about the wire lives here once:

- ``settings``: what an ``ofs_scheduler`` connection says, validated (``ConnectionSettings``);
- ``proxies``: which proxy a call goes through;
- ``calls``: the requests of the five ESI calls;
- ``answers``: reading ESI's answers, codes, run ids and states, and the status poll;
- ``retry_rule``: when a failed exchange may be sent again, and the error once retrying stops;
- ``iam``: Oracle IAM tokens;
- ``texts``: server-given texts made safe to show.
"""

from __future__ import annotations

from airflow_provider_ofs.protocol.answers import (
    MAX_ANSWER_BYTES,
    QUOTED_VALUE_LENGTH,
    StatusPoll,
    accepted_then_failed,
    accepted_unrecorded,
    check_api_code,
    decode_answer,
    http_error,
    parse_code,
    parse_state,
    parse_status,
    quote_value,
    run_id_from,
)
from airflow_provider_ofs.protocol.calls import (
    CONNECTION_TEST_RUN_ID,
    ESI_PATH,
    HEADER_LOCALE,
    HEADER_REMOTE_USER,
    HEADER_SERVICE,
    HEADER_TENANT,
    HEADER_WORKSPACE,
    MAX_REQUEST_BYTES,
    HttpRequest,
    HttpResponse,
    Verb,
    build_probe,
    build_run_action,
    build_status,
    build_trigger,
    esi_headers,
    probe_verdict,
)
from airflow_provider_ofs.protocol.iam import (
    DEFAULT_TOKEN_LIFETIME,
    FALLBACK_TOKEN_LIFETIME,
    MAX_TOKEN_LIFETIME,
    OFFLINE_ACCESS,
    TOKEN_REFRESH_FRACTION,
    TOKEN_REFRESH_LEAD,
    Token,
    build_token_request,
    parse_token_answer,
    pre_issued_token,
    refresh_scope,
    token_clock,
    token_lifetime,
    token_source,
    unauthorized,
)
from airflow_provider_ofs.protocol.proxies import (
    proxy_for,
)
from airflow_provider_ofs.protocol.retry_rule import (
    final_error,
    may_retry,
    outcome_unknown,
    parse_retry_after,
    retry_wait,
    utc_text,
)
from airflow_provider_ofs.protocol.settings import (
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_RETRY_WAIT,
    LEGACY_IAM_URL_FIELD,
    MAX_MONITOR_URL,
    MONITOR_URL_FIELDS,
    URL_SCHEMES,
    ConnectionSettings,
    monitor_url_for,
)
from airflow_provider_ofs.protocol.texts import (
    MAX_SERVER_TEXT,
    redact,
    server_text,
)
from airflow_provider_ofs.run_ids import MAX_RUN_ID_LENGTH, run_id_problem

__all__ = [
    "CONNECTION_TEST_RUN_ID",
    "DEFAULT_RETRY_ATTEMPTS",
    "DEFAULT_RETRY_WAIT",
    "DEFAULT_TOKEN_LIFETIME",
    "ESI_PATH",
    "FALLBACK_TOKEN_LIFETIME",
    "HEADER_LOCALE",
    "HEADER_REMOTE_USER",
    "HEADER_SERVICE",
    "HEADER_TENANT",
    "HEADER_WORKSPACE",
    "LEGACY_IAM_URL_FIELD",
    "MAX_ANSWER_BYTES",
    "MAX_MONITOR_URL",
    "MAX_REQUEST_BYTES",
    "MAX_RUN_ID_LENGTH",
    "MAX_SERVER_TEXT",
    "MAX_TOKEN_LIFETIME",
    "MONITOR_URL_FIELDS",
    "OFFLINE_ACCESS",
    "QUOTED_VALUE_LENGTH",
    "TOKEN_REFRESH_FRACTION",
    "TOKEN_REFRESH_LEAD",
    "URL_SCHEMES",
    "ConnectionSettings",
    "HttpRequest",
    "HttpResponse",
    "StatusPoll",
    "Token",
    "Verb",
    "accepted_then_failed",
    "accepted_unrecorded",
    "build_probe",
    "build_run_action",
    "build_status",
    "build_token_request",
    "build_trigger",
    "check_api_code",
    "decode_answer",
    "esi_headers",
    "final_error",
    "http_error",
    "may_retry",
    "monitor_url_for",
    "outcome_unknown",
    "parse_code",
    "parse_retry_after",
    "parse_state",
    "parse_status",
    "parse_token_answer",
    "pre_issued_token",
    "probe_verdict",
    "proxy_for",
    "quote_value",
    "redact",
    "refresh_scope",
    "retry_wait",
    "run_id_from",
    "run_id_problem",
    "server_text",
    "token_clock",
    "token_lifetime",
    "token_source",
    "unauthorized",
    "utc_text",
]
