"""The pure, I/O-free core of the ESI protocol: settings, request building, response parsing, code mapping.

Both the synchronous hook (``requests``) and the asynchronous client (``aiohttp``) send what this module
builds and hand back what they received; every rule about the wire lives here once.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import math
import random
import re
import string
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import SplitResult, quote, urlencode, urlsplit

from airflow_provider_ofs.arguments import (
    dynamic_param_list,
    join_codes,
    refuse_non_finite,
    require_name,
    wire_batch_type,
)
from airflow_provider_ofs.connection_form import (
    DEFAULT_LOCALE,
    DEFAULT_SCOPE,
    DEFAULT_TIMEOUT,
    DEFAULT_WORKSPACE_ID,
    DYNAMIC_PARAMS_FORMATS,
)
from airflow_provider_ofs.exceptions import (
    API_ERRORS,
    FailureKind,
    OFSApiError,
    OFSAuthenticationError,
    OFSConnectionConfigError,
    OFSCredentialsRefusedError,
    OFSInvalidHeadersError,
    OFSOutcomeUnknownError,
    OFSTokenUnavailableError,
    OFSTransportError,
    OFSUnknownCodeError,
)
from airflow_provider_ofs.states import RunState, RunStatus, TaskStatus

ESI_PATH = "/SchedulerService/rest-api/v1/external/"
#: The IAM endpoint's extra field before ``iam_url``: Airflow masks every field whose name holds "token", so
#: the URL showed as ``***`` in the form and the API. Still read when ``iam_url`` is not set.
LEGACY_IAM_URL_FIELD = "token_url"
#: The scope that makes IAM issue a refresh token; a refresh grant asks for the rest of the connection's scope.
OFFLINE_ACCESS = "offline_access"
DEFAULT_RETRY_ATTEMPTS = 5
DEFAULT_RETRY_WAIT = 1.0
#: Most bytes of one ESI request body (real ones are well under a KiB); a larger one is refused before sending.
MAX_REQUEST_BYTES = 1024 * 1024
#: Most bytes read of one ESI or IAM answer (real ones are a few KiB); a longer answer is refused unread.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
#: The token lifetime assumed when ``expires_in`` is 0, negative, NaN or not a number: a bad answer costs one
#: token request a minute instead of one per call. A positive, finite ``expires_in`` is believed as given.
FALLBACK_TOKEN_LIFETIME = 60.0
#: The lifetime IAM gives a token when its answer has no ``expires_in`` (an hour).
DEFAULT_TOKEN_LIFETIME = 3600.0
#: Longest token lifetime believed (IAM issues tokens for up to a year).
MAX_TOKEN_LIFETIME = 366 * 86400.0
#: A token is renewed this long before it expires, or a quarter of its lifetime before for short-lived ones.
TOKEN_REFRESH_LEAD = 60.0
TOKEN_REFRESH_FRACTION = 0.25

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

    @property
    def is_idempotent(self) -> bool:
        """Whether repeating the call can never start or change a run."""
        return self is Verb.STATUS


# --------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything an ``ofs_scheduler`` connection says, validated; secrets are kept out of ``repr``."""

    conn_id: str
    base_url: str
    tenant_id: str
    service_id: str
    remote_user: str
    iam_url: str = ""
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    access_token: str = field(default="", repr=False)
    workspace_id: str = DEFAULT_WORKSPACE_ID
    locale: str = DEFAULT_LOCALE
    scope: str = DEFAULT_SCOPE
    verify: bool | str = True
    proxy: str = field(default="", repr=False)  # a proxy URL may carry a user and password
    monitor_url: str = ""
    timeout: float = DEFAULT_TIMEOUT
    retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    retry_wait: float = DEFAULT_RETRY_WAIT
    dynamic_params_format: str = DYNAMIC_PARAMS_FORMATS[0]

    @classmethod
    def from_connection(
        cls,
        conn_id: str,
        *,
        host: str | None,
        login: str | None,
        password: str | None,
        extra: Mapping[str, Any],
        port: int | None = None,
        schema: str | None = None,
    ) -> ConnectionSettings:
        """Validate an Airflow connection's fields; a missing or bad field raises an error naming it.

        An extra that is absent, ``null`` or blank is not set (Airflow's forms store every empty field as one
        of these) and takes its default.
        """
        extra = {name: value for name, value in extra.items() if not _unset(value)}

        def text(name: str) -> str:
            return str(extra.get(name, "")).strip()

        def required(name: str, value: str, where: str) -> str:
            if not value:
                raise OFSConnectionConfigError(f"Connection {conn_id!r}: {where} {name!r} is required")
            return value

        base_url = required("host", _base_url(conn_id, host or "", port, schema), "field")
        _check_url_form(conn_id, "field 'host'", base_url)
        access_token = text("access_token")
        if access_token and not _SENDABLE_TOKEN.fullmatch(access_token):
            raise OFSConnectionConfigError(
                f"Connection {conn_id!r}: extra field 'access_token' holds whitespace, control or non-ASCII "
                f"characters, which an HTTP header cannot carry; paste the token alone, on one line"
            )
        iam_url = text("iam_url") or text(LEGACY_IAM_URL_FIELD)
        login = (login or "").strip()
        if not access_token:
            required("iam_url", iam_url, "extra field (or a pre-issued 'access_token')")
            for name in ("client_id", "client_secret"):
                required(name, text(name), "extra field (or a pre-issued 'access_token')")
            required("login", login, "field (IAM user name, or a pre-issued extra 'access_token')")
            required("password", password or "", "field (IAM password, or a pre-issued extra 'access_token')")
        headers = {
            "tenant_id": required("tenant_id", text("tenant_id"), "extra field"),
            "service_id": required("service_id", text("service_id"), "extra field"),
            "remote_user": required("remote_user", text("remote_user") or login, "extra field (or 'login')"),
            "workspace_id": text("workspace_id") or DEFAULT_WORKSPACE_ID,
            "locale": text("locale") or DEFAULT_LOCALE,
        }
        for name, value in headers.items():
            _check_header_value(conn_id, name, value, defaulted=name == "remote_user" and not text(name))
        params_format = text("dynamic_params_format").lower() or DYNAMIC_PARAMS_FORMATS[0]
        if params_format not in DYNAMIC_PARAMS_FORMATS:
            raise OFSConnectionConfigError(
                f"Connection {conn_id!r}: extra field 'dynamic_params_format' must be 'string' (dynamicParamList "
                f"as a JSON-encoded string, the guide's form) or 'object' (a JSON object), not {params_format!r}"
            )
        iam_field = "iam_url" if text("iam_url") else LEGACY_IAM_URL_FIELD
        _check_url_form(conn_id, f"extra field {iam_field!r}", _normalise_url(iam_url))
        return cls(
            conn_id=conn_id,
            base_url=base_url,
            iam_url=_normalise_url(iam_url),
            username=login,
            password=password or "",
            client_id=text("client_id"),
            client_secret=text("client_secret"),
            access_token=access_token,
            scope=text("scope") or DEFAULT_SCOPE,
            verify=_parse_verify(extra.get("verify", True)),
            proxy=_parse_proxy(conn_id, text("proxy")),
            monitor_url=_parse_monitor_url(conn_id, text("monitor_url")),
            timeout=_positive_number(conn_id, "timeout", extra.get("timeout"), DEFAULT_TIMEOUT),
            retry_attempts=int(
                _positive_number(conn_id, "retry_attempts", extra.get("retry_attempts"), DEFAULT_RETRY_ATTEMPTS)
            ),
            retry_wait=_positive_number(conn_id, "retry_wait", extra.get("retry_wait"), DEFAULT_RETRY_WAIT),
            dynamic_params_format=params_format,
            **headers,
        )

    @cached_property
    def cache_key(self) -> str:
        """Identity of the credentials, for the per-process token cache; a digest, so it holds no secret."""
        identity = "\0".join(
            (
                self.iam_url,
                self.client_id,
                self.client_secret,
                self.username,
                self.password,
                self.scope,  # another scope is another token
                self.access_token,
            )
        )
        return hashlib.sha256(identity.encode()).hexdigest()

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values that must never appear in a log."""
        proxy_password = urlsplit(self.proxy).password if self.proxy else None
        return tuple(s for s in (self.password, self.client_secret, self.access_token, proxy_password) if s)


# What a bearer token may hold: visible ASCII only. Whitespace, a line break or a control character would
# break (or smuggle a header into) the request, and a library's error about it would quote the token.
_SENDABLE_TOKEN = re.compile(r"[\x21-\x7e]+")
# What an ``ofs_*`` or ``locale`` header value may hold: printable ASCII. HTTP allows Latin-1 too, but
# requests sends it as Latin-1 and aiohttp as UTF-8, so the two paths would send different bytes.
_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")


def _check_header_value(conn_id: str, name: str, value: str, *, defaulted: bool) -> None:
    if _HEADER_VALUE.fullmatch(value):
        return
    where = "field 'login' (the default of extra 'remote_user')" if defaulted else f"extra field {name!r}"
    raise OFSConnectionConfigError(
        f"Connection {conn_id!r}: {where} is sent as an HTTP header, which carries only printable ASCII, "
        f"and it holds other characters"
        + (" (set 'remote_user' to the OFS user id; the login itself may stay as it is)" if defaulted else "")
    )


def _normalise_url(url: str) -> str:
    if url and "://" not in url:
        url = "https://" + url
    return url.rstrip("/")


def _unset(value: Any) -> bool:
    """Whether an extra's value means "not set": absent, ``null`` or blank, as Airflow's forms store empty fields."""
    return value is None or (isinstance(value, str) and not value.strip())


#: What the connection's ``schema`` may say: the scheme of a host given without one (the HTTP provider's habit).
URL_SCHEMES = ("https", "http")


def _base_url(conn_id: str, host: str, port: int | None, schema: str | None) -> str:
    """The application base URL from ``host``, completed by the connection's ``port`` and ``schema`` (URI form).

    A scheme in ``host`` wins; else ``schema`` (``http`` or ``https``) gives it; else https. ``port`` is used
    when ``host`` names none. The part of a pasted URL from ``/SchedulerService`` on is dropped.
    """
    host = host.strip()
    if not host:
        return ""
    scheme = (schema or "").strip().lower()
    if scheme and scheme not in URL_SCHEMES:
        raise OFSConnectionConfigError(
            f"Connection {conn_id!r}: field 'schema' is the scheme of a host given without one, 'http' or "
            f"'https', not {schema!r}; put a path prefix in 'host', e.g. https://tenant.example.com/app"
        )
    url = host if "://" in host else f"{scheme or 'https'}://{host}"
    if "?" in url or "#" in url:
        raise OFSConnectionConfigError(
            f"Connection {conn_id!r}: field 'host' has a query or fragment ('?' or '#'); give the application "
            f"base URL only, e.g. https://tenant.example.com/app"
        )
    parts = urlsplit(url)
    try:
        named_port = parts.port
    except ValueError:
        raise OFSConnectionConfigError(f"Connection {conn_id!r}: field 'host' names an invalid port") from None
    if port and named_port is None:
        if not 0 < port < 65536:
            raise OFSConnectionConfigError(f"Connection {conn_id!r}: field 'port' must be 1-65535, not {port}")
        url = parts._replace(netloc=f"{parts.netloc}:{port}").geturl()
    url = url.rstrip("/")
    # Tolerate a host pasted with the ESI path on it: the connection holds the part before it.
    cut = url.find("/SchedulerService")
    return url[:cut] if cut >= 0 else url


# Whitespace, control characters and other unprintable ones: no URL of ours holds them (a space in a host name
# fails differently on each transport, and a line break would smuggle a header).
_NOT_IN_A_URL = re.compile(r"[\s\x00-\x1f\x7f]")


def _check_url_form(conn_id: str, where: str, url: str) -> None:
    """Refuse a service URL that is not ``http(s)://host[:port][/path]``: no user or password in it, no whitespace.

    URL credentials would be sent as HTTP Basic auth instead of the bearer token (or the IAM client's), and
    shown wherever the URL is: error texts, ``batch_run_url``, the lineage facet. The error names the field,
    never the credentials.
    """
    if not url:
        return
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise OFSConnectionConfigError(
            f"Connection {conn_id!r}: {where} holds a user name or password before the host name "
            f"('...@{parts.netloc.rpartition('@')[2]}'); remove it. ESI calls carry the IAM bearer token, and the "
            f"IAM user and password go in the connection's login and password fields."
        )
    if _NOT_IN_A_URL.search(url) or not url.isprintable():
        raise OFSConnectionConfigError(
            f"Connection {conn_id!r}: {where} holds whitespace or control characters, which no URL may hold"
        )
    try:
        parts.port  # noqa: B018  (reading it checks it: a port that is not a number in 0-65535 raises)
    except ValueError:
        raise OFSConnectionConfigError(f"Connection {conn_id!r}: {where} has a port that is not a number") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OFSConnectionConfigError(
            f"Connection {conn_id!r}: {where} must be an https:// (or http://) URL with a host name, "
            f"e.g. https://tenant.example.com/app"
        )


def _parse_proxy(conn_id: str, value: str) -> str:
    if not value:
        return ""
    url = value if "://" in value else "http://" + value
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise OFSConnectionConfigError(
            f"Connection {conn_id!r}: extra field 'proxy' must be the URL of an HTTP(S) proxy, "
            f"e.g. http://proxy.example.com:3128"
        )
    return url.rstrip("/")


#: The placeholders a ``monitor_url`` template may use, each as it is (``{run_id}``: no attribute, index,
#: conversion or format spec).
MONITOR_URL_FIELDS = ("run_id", "batch_name", "host")
#: Most characters of a ``monitor_url`` template, and of a URL built from it (a longer one is not published).
MAX_MONITOR_URL = 2048


def _parse_monitor_url(conn_id: str, template: str) -> str:
    """Check a Batch Monitor URL template: an http(s) URL, ``{run_id}`` required, only the known placeholders."""
    if not template:
        return ""
    where = f"Connection {conn_id!r}: extra field 'monitor_url'"
    if len(template) > MAX_MONITOR_URL:
        raise OFSConnectionConfigError(f"{where} is {len(template)} characters long; at most {MAX_MONITOR_URL}")
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as error:
        raise OFSConnectionConfigError(
            f"{where} is not a URL template with {{run_id}}, {{batch_name}} or {{host}} ({error})"
        ) from None
    for name, spec, conversion in fields:
        if name not in MONITOR_URL_FIELDS or spec or conversion:
            found = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise OFSConnectionConfigError(
                f"{where} is not a URL template with {{run_id}}, {{batch_name}} or {{host}}: it holds "
                f"{{{server_text(found, limit=40)}}}, and each placeholder is one of these three names as it is "
                f"(no attribute, index, conversion or format spec)"
            )
    if "run_id" not in {name for name, _, _ in fields}:
        raise OFSConnectionConfigError(f"{where} must contain {{run_id}}")
    _check_url_form(conn_id, "extra field 'monitor_url'", template.format(run_id="R", batch_name="B", host="https://h"))
    return template


def monitor_url_for(settings: ConnectionSettings, run_id: str, batch_name: str) -> str | None:
    """The run's page in the OFS Batch Monitor, from the connection's ``monitor_url``; ``None`` without one.

    ``{host}`` is the connection's application base URL; the run id and batch name are URL-quoted. A URL
    longer than ``MAX_MONITOR_URL`` is ``None`` too: it is not published.
    """
    if not settings.monitor_url:
        return None
    url = settings.monitor_url.format(
        run_id=quote(run_id, safe=""), batch_name=quote(batch_name, safe=""), host=settings.base_url
    )
    return url if len(url) <= MAX_MONITOR_URL else None


def _parse_verify(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in ("", "true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    return text  # a CA bundle path; the transport reports a path that does not exist


def _positive_number(conn_id: str, name: str, value: Any, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not math.isfinite(number) or number <= 0:  # "nan" and "inf" parse as floats
        raise OFSConnectionConfigError(f"Connection {conn_id!r}: extra field {name!r} must be a positive number")
    return number


# ------------------------------------------------------------------------------------------------ proxy


def proxy_for(settings: ConnectionSettings, url: str, environ: Mapping[str, str]) -> str | None:
    """The proxy a call to ``url`` goes through, the same rule for both transports; ``None`` for none.

    The connection's ``proxy`` when set, for every call. Otherwise the environment's, as curl and Python's
    ``urllib`` read it: ``https_proxy``/``http_proxy`` by the URL's scheme, then ``all_proxy`` (a lower-case
    name wins over its upper-case one), unless ``no_proxy`` names the host as curl reads it (``_bypassed``:
    names, domain suffixes, ``*``, IP networks such as ``10.0.0.0/8``, ``host:port``). Nothing is bypassed
    by default, loopback included.
    """
    if settings.proxy:
        return settings.proxy
    found = _proxy_environment(environ)
    parts = urlsplit(url)
    proxy = found.get(parts.scheme) or found.get("all")
    if not proxy or _bypassed(parts, found.get("no", "")):
        return None
    return proxy if "://" in proxy else "http://" + proxy


def _proxy_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``urllib.request.getproxies_environment`` over any mapping: scheme (or ``no``) -> value."""
    found: dict[str, str] = {}
    for name, value in environ.items():  # upper-case and mixed names first ...
        if value and name.lower().endswith("_proxy"):
            found[name.lower()[:-6]] = value.strip()
    for name, value in environ.items():  # ... then lower-case names win, and an empty one unsets
        if name.endswith("_proxy") and name.islower():
            if value:
                found[name[:-6]] = value.strip()
            else:
                found.pop(name[:-6], None)
    return found


def _bypassed(url: SplitResult, no_proxy: str) -> bool:
    """Whether ``no_proxy`` names the URL's host, as curl reads it.

    Entries are separated by commas or blanks; ``*`` alone bypasses everything. A name matches itself and
    its subdomains (a leading dot, and a trailing one on either side, are ignored; case does not count); an
    IP address or network (``10.0.0.0/8``, ``[::1]``) matches the addresses in it. An entry with a port
    (``host:8443``, ``[::1]:8080``) matches that port only, the URL's default port when it gives none.
    """
    if no_proxy.strip() == "*":
        return True
    host = (url.hostname or "").rstrip(".")  # lower-cased, IPv6 brackets removed
    port = url.port or (443 if url.scheme == "https" else 80)  # the settings checked the URL: a valid port
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in filter(None, re.split(r"[\s,]+", no_proxy)):
        name, entry_port = _no_proxy_entry(entry)
        if entry_port is not None and entry_port != port:
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                continue
        name = name.strip(".").lower()
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _no_proxy_entry(entry: str) -> tuple[str, int | None]:
    """A ``NO_PROXY`` entry's host (or network) and port, if it names one: ``[::1]:8080`` -> (``::1``, 8080)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port) if port.isdigit() else None
    return entry, None  # a name, an IPv4 address or network, or a bare IPv6 address


# ------------------------------------------------------------------------------------------------ wire


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
    body: dict[str, Any] = {"batchRunId": require_name("batch_run_id", batch_run_id)}
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
        "batchRunId": require_name("batch_run_id", batch_run_id),
    }
    return _esi_request(settings, verb, body)


# -------------------------------------------------------------------------------------------- answers


def decode_answer(response: HttpResponse, verb: str, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """Turn an HTTP answer into the API envelope, or raise the error its HTTP status and body call for.

    Decides from the body's ``statusCode`` when the body is JSON, from the HTTP status otherwise
    (ESI-NOTES 3). HTTP 401 is left to the caller, which refreshes the token once (ESI-NOTES 13).
    Server text quoted in an error is ``redact``-ed of ``secrets`` (the connection's) and bearer tokens.
    """
    envelope = _json_object(response.body)
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


def _json_object(body: bytes) -> dict[str, Any] | None:
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


#: Longest run id believed. OFS's run ids are a few dozen characters (batch, MIS date, counters); a longer
#: ``batchRunId`` would go into XComs, logs and the lineage facet as it is.
MAX_RUN_ID_LENGTH = 256
#: How many characters of an unusable value an error quotes.
QUOTED_VALUE_LENGTH = 120


def run_id_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a run id, or ``None`` when it can: the one rule, for answers and the task-state store.

    A run id is text: one line of printable characters (no line break, control character or lone surrogate),
    at most ``MAX_RUN_ID_LENGTH`` long once the spaces around it are stripped, and not blank.
    """
    if value is None:
        return "there is none"
    if not isinstance(value, str):
        return f"it is {type(value).__name__}, not text"
    text = value.strip()
    if not text:
        return "it is blank"
    if len(text) > MAX_RUN_ID_LENGTH:
        return f"it is {len(text)} characters long, more than {MAX_RUN_ID_LENGTH}"
    if not text.isprintable():
        return "it holds a line break, a control character or a lone surrogate"
    return None


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
        ways_on = _WAYS_ON.get(verb, "Check the OFS Batch Monitor before trying again.")
        ways_on = ways_on.format(subject=subject or "the batch or run it named", window=_describe_window(None))
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


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header given in seconds; ``None`` when absent or a date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def may_retry(error: BaseException, verb: str) -> bool:
    """The retry rule (README, "Retries and idempotency"), for both transports.

    A status poll is retried on every transient failure; a call that may start, stop or change a run only
    when the server certainly did not process it (no connection, 429, 503).
    """
    if not isinstance(error, OFSTransportError) or not error.kind.is_transient:
        return False
    return verb in (Verb.STATUS.value, "token") or error.kind.request_was_not_processed


def retry_wait(
    error: BaseException | None, attempt: int, initial_wait: float, jitter: Callable[[], float] = random.random
) -> float:
    """Seconds before the next attempt: exponential backoff capped at 30 s, at least any Retry-After.

    A 429 without ``Retry-After`` (Oracle IAM's way, ESI-NOTES 18) waits between half and all of the backoff,
    by ``jitter()`` (a number in [0, 1)): processes throttled together do not all come back together.
    """
    backoff: float = min(30.0, initial_wait * 2.0 ** max(0, attempt - 1))
    if not isinstance(error, OFSTransportError):
        return backoff
    if error.retry_after is not None:
        return max(backoff, min(float(error.retry_after), 300.0))
    return backoff * (0.5 + jitter() / 2) if error.kind is FailureKind.THROTTLED else backoff


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


# ------------------------------------------------------------------------------------------------ tokens


@dataclass(frozen=True)
class Token:
    """An access token and when to stop using it."""

    access_token: str = field(repr=False)
    expires_at: float
    refresh_token: str | None = field(default=None, repr=False)
    refresh_at: float = 0.0

    def is_fresh(self, now: float | None = None) -> bool:
        """Whether the token can still be used without refreshing it first."""
        return (time.time() if now is None else now) < self.refresh_at


def token_clock() -> float:
    """The clock tokens are timed by (epoch seconds): read when a token request is sent."""
    return time.time()


def refresh_scope(scope: str) -> str:
    """The scope a refresh grant asks for: the password grant's, without ``offline_access`` (ESI-NOTES 18)."""
    return " ".join(word for word in scope.split() if word != OFFLINE_ACCESS)


def build_token_request(settings: ConnectionSettings, refresh_token: str | None = None) -> HttpRequest:
    """Build the IAM token call: a password grant, or a refresh grant when a refresh token is given."""
    basic = base64.b64encode(f"{settings.client_id}:{settings.client_secret}".encode()).decode()
    if refresh_token:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "scope": refresh_scope(settings.scope)}
    else:
        form = {
            "grant_type": "password",
            "scope": settings.scope,
            "username": settings.username,
            "password": settings.password,
        }
    return HttpRequest(
        url=settings.iam_url,
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
            "Accept": "application/json",
        },
        body=urlencode(form).encode(),
        verb="token",
    )


def parse_token_answer(response: HttpResponse, settings: ConnectionSettings, now: float | None = None) -> Token:
    """Read IAM's answer: a token, or an error that says why (never echoing a secret).

    ``now`` is when the token request was sent (epoch seconds; the current time when not given): the
    token's lifetime (``token_lifetime``) counts from then, and it is renewed ahead of its end
    (``TOKEN_REFRESH_LEAD``, or ``TOKEN_REFRESH_FRACTION`` of a short lifetime).
    """
    answer = _json_object(response.body)
    where = f"IAM token request for connection {settings.conn_id!r}"
    if response.status in (400, 401) and answer is not None and "error" in answer:
        reason = server_text(answer.get("error"), settings.secrets)
        refused = _REFUSALS.get(reason)
        if refused:
            raise OFSCredentialsRefusedError(
                f"{where} to {settings.iam_url} failed: {reason}: {refused}. The task is not retried, so that the "
                f"account is not locked by repeated attempts"
            )
        detail = server_text(answer.get("error_description") or "refused", settings.secrets)
        raise OFSAuthenticationError(f"{where} failed: {reason} ({detail})")
    if response.status >= 400:
        raise http_error(where, response)
    if answer is None or not isinstance(answer.get("access_token"), str) or not answer["access_token"]:
        raise OFSTransportError(f"{where}: the answer has no access_token", kind=FailureKind.MALFORMED)
    if not _SENDABLE_TOKEN.fullmatch(answer["access_token"]):
        raise OFSAuthenticationError(
            f"{where}: the access_token IAM issued holds whitespace, control or non-ASCII characters, "
            f"which an HTTP header cannot carry; it was not used"
        )
    lifetime = token_lifetime(answer.get("expires_in", DEFAULT_TOKEN_LIFETIME))
    issued = token_clock() if now is None else now
    refresh_token = answer.get("refresh_token")
    return Token(
        access_token=answer["access_token"],
        expires_at=issued + lifetime,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        refresh_at=issued + lifetime - min(TOKEN_REFRESH_LEAD, lifetime * TOKEN_REFRESH_FRACTION),
    )


#: IAM's refusals of the credentials themselves (RFC 6749 5.2), and what to check for each.
_REFUSALS = {
    "invalid_client": "the client_id/client_secret were refused; check extra fields 'client_id' and "
    "'client_secret' (the application's, in IAM) and that 'iam_url' is the token endpoint of the IAM domain "
    "that holds it",
    "invalid_grant": "the user name/password were refused; check fields 'login' and 'password' (an IAM user, "
    "not locked, whose password has not expired)",
    "unauthorized_client": "IAM does not let this OAuth client use the password grant; allow the "
    "'Resource Owner' grant for the application in IAM",
}


def token_lifetime(expires_in: Any) -> float:
    """Seconds a token lives, from IAM's ``expires_in``: a positive, finite number (or numeric text) as given,
    up to ``MAX_TOKEN_LIFETIME``; 0, negative, NaN or anything else ``FALLBACK_TOKEN_LIFETIME``."""
    try:
        lifetime = float(expires_in) if not isinstance(expires_in, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        lifetime = math.nan
    if math.isnan(lifetime) or lifetime <= 0:
        return FALLBACK_TOKEN_LIFETIME
    return min(MAX_TOKEN_LIFETIME, lifetime)


def pre_issued_token(settings: ConnectionSettings) -> Token:
    """A token given in the connection: used as is, never refreshed (IAM allows lifetimes up to a year)."""
    return Token(access_token=settings.access_token, expires_at=float("inf"), refresh_at=float("inf"))


def token_source(settings: ConnectionSettings, stale: Token | None) -> Token | tuple[str | None, ...]:
    """Where a new token comes from, for both transports.

    The connection's pre-issued token, as is, every time: nothing can renew it, so a refused one is
    repeated once and fails that call only (``unauthorized``), and the next call tries it again. Or the
    IAM grants to try in order, each a refresh token or ``None`` for the password grant: the stale
    token's refresh grant first when it has one, then the password grant if IAM refuses it.
    """
    if settings.access_token:
        return pre_issued_token(settings)
    if stale is not None and stale.refresh_token:
        return (stale.refresh_token, None)
    return (None,)


def unauthorized(settings: ConnectionSettings, verb: str) -> OFSAuthenticationError:
    """ESI refused the bearer token twice in a row (ESI-NOTES 13)."""
    source = "pre-issued access_token" if settings.access_token else "token just obtained from IAM"
    return OFSAuthenticationError(
        f"ESI {verb}: HTTP 401, the {source} of connection {settings.conn_id!r} was refused "
        f"(check that the IAM user may call the External Scheduler Interface)"
    )


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


#: What to do after a mutating call whose outcome is unknown, per verb; ``{subject}`` and ``{window}`` filled in.
_WAYS_ON = {
    "trigger": (
        "Look in the OFS Batch Monitor for a run of {subject} started {window}. If none started, clear this task "
        "to trigger it again; if one did, watch it by its run id with OFSBatchRunSensor, or restart it with "
        "OFSRestartBatchOperator if it failed."
    ),
    "restart": (
        "Look in the OFS Batch Monitor at {subject} {window}. If it was not restarted, clear this task to restart "
        "it again; if it was, watch the run with OFSBatchRunSensor."
    ),
    "rerun": (
        "Look in the OFS Batch Monitor for a rerun of {subject} started {window}. If none started, clear this task "
        "to rerun it; if one did, watch it by its run id with OFSBatchRunSensor."
    ),
    "interrupt": (
        "Look in the OFS Batch Monitor at {subject}: if it was not interrupted, clear this task to interrupt it again."
    ),
}
#: HTTP statuses that, without an API answer, mean the URL leads to no ESI verb: nothing was processed.
_NOT_ESI = (404, 405)


def final_error(
    error: BaseException, request: HttpRequest, subject: str, window: tuple[float, float] | None = None
) -> BaseException:
    """The error to raise once retrying stops; says when a mutating call may have been processed.

    ``window`` is when the call was first sent and when it gave up (epoch seconds): a mutating call whose
    outcome is unknown names it, so that a person can find the run in the OFS Batch Monitor.
    """
    if not isinstance(error, OFSTransportError):
        return error
    if request.verb == "token":
        return OFSTokenUnavailableError(f"{error}; gave up after the retry budget")
    if error.http_status in _NOT_ESI and error.kind is FailureKind.HTTP_ERROR:
        return OFSConnectionConfigError(
            f"ESI {request.verb} of {subject}: {request.url} answered HTTP {error.http_status} without an API "
            f"status, so the request never reached the External Scheduler Interface and nothing was processed. "
            f"Check the connection's host: the application base URL, the part before /SchedulerService."
        )
    if request.verb == Verb.STATUS.value or error.kind.request_was_not_processed:
        return error
    happened = f"ESI {request.verb} of {subject} at {request.url}: {error.kind.value} ({error})"
    return outcome_unknown(request.verb, subject, happened, window)


def outcome_unknown(
    verb: str, subject: str, happened: str, window: tuple[float, float] | None
) -> OFSOutcomeUnknownError:
    """The error for a trigger, restart, rerun or interrupt that may have been processed: what happened, and
    where and when to look in the OFS Batch Monitor (``window``, epoch seconds) before acting again."""
    ways_on = _WAYS_ON.get(verb, "Check the OFS Batch Monitor before trying again.")
    where_to_look = ways_on.format(subject=subject, window=_describe_window(window))
    return OFSOutcomeUnknownError(
        f"{happened}. The request may have been processed, so it was not repeated, and the task is not retried "
        f"by Airflow either: a new try could act twice. {where_to_look}"
    )


def utc_text(moment: float) -> str:
    """An epoch time as the Batch Monitor shows it, in UTC: ``2026-03-31 23:05:00``."""
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _describe_window(window: tuple[float, float] | None) -> str:
    if window is None:
        return "around now"
    return f"between {utc_text(window[0])} and {utc_text(window[1])} UTC"
