"""Connection settings for pure-core tests: a complete ``ofs_scheduler`` connection, overridable per field."""

from __future__ import annotations

from typing import Any

from airflow_provider_ofs.protocol import ConnectionSettings

CONN_ID = "ofs_core_test"
HOST = "https://tenant.example.com/app"
LOGIN = "batch_user"
PASSWORD = "user-password-1"

_EXTRA: dict[str, Any] = {
    "iam_url": "https://iam.example.com/oauth2/v1/token",
    "client_id": "client-id-1",
    "client_secret": "client-secret-1",
    "tenant_id": "TENANT_1",
    "service_id": "SERVICE_1",
}

_UNSET: Any = object()


def make_settings(
    *,
    conn_id: str = CONN_ID,
    host: str | None = HOST,
    login: str | None = LOGIN,
    password: str | None = PASSWORD,
    port: int | None = None,
    schema: str | None = None,
    drop: tuple[str, ...] = (),
    **extra: Any,
) -> ConnectionSettings:
    """Settings from a complete connection; ``extra`` overrides extras, ``drop`` removes extras."""
    fields = {key: value for key, value in {**_EXTRA, **extra}.items() if key not in drop}
    return ConnectionSettings.from_connection(
        conn_id, host=host, login=login, password=password, extra=fields, port=port, schema=schema
    )
