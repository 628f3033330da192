"""What an ``ofs_scheduler`` connection says, validated: ``ConnectionSettings`` and the rules for each field."""

from __future__ import annotations

import hashlib
import math
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_ofs.connection_form import (
    DEFAULT_LOCALE,
    DEFAULT_SCOPE,
    DEFAULT_TIMEOUT,
    DEFAULT_WORKSPACE_ID,
    DYNAMIC_PARAMS_FORMATS,
)
from airflow_provider_ofs.exceptions import (
    OFSConnectionConfigError,
)
from airflow_provider_ofs.protocol.texts import server_text

#: The IAM endpoint's extra field before ``iam_url``: Airflow masks every field whose name holds "token", so
#: the URL showed as ``***`` in the form and the API. Still read when ``iam_url`` is not set.
LEGACY_IAM_URL_FIELD = "token_url"
DEFAULT_RETRY_ATTEMPTS = 5
DEFAULT_RETRY_WAIT = 1.0


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
        if access_token and not SENDABLE_TOKEN.fullmatch(access_token):
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
SENDABLE_TOKEN = re.compile(r"[\x21-\x7e]+")
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
