"""The ``ofs_scheduler`` connection form: its fields, labels, choices and defaults (no Airflow import).

Airflow reads this through the provider info while it starts, so nothing here may import Airflow; the
settings (``protocol.ConnectionSettings``) take their defaults from here.
"""

from __future__ import annotations

from typing import Any

# The connection's defaults, as the settings apply them and the form shows them.
DEFAULT_WORKSPACE_ID = "WS001"
DEFAULT_LOCALE = "en-US"
DEFAULT_SCOPE = "urn:opc:idm:__myscopes__ offline_access"
DEFAULT_TIMEOUT = 60.0
#: ``dynamicParamList`` as a JSON-encoded string (the guide, the default) or as JSON itself (ESI-NOTES 15).
DYNAMIC_PARAMS_FORMATS = ("string", "object")

# Connection form fields. Airflow 3.2+ reads them from here: each "schema" is a JSON schema, as for DAG params:
# a "type" without "null" marks the field required, "enum" makes a choice, "examples" offer suggestions (the 3.x
# form shows no placeholder otherwise), "default" fills the field, "format": "password" hides it. Airflow 2.11
# asks the hook, which builds its form from the same list (``OFSSchedulerHook.get_connection_form_widgets``).
CONNECTION_FIELDS: dict[str, dict[str, Any]] = {
    "iam_url": {
        "label": "IAM token endpoint",
        "description": "Oracle IAM token URL, e.g. https://idcs-xxxx.identity.oraclecloud.com/oauth2/v1/token",
        "schema": {"type": "string", "examples": ["https://idcs-xxxx.identity.oraclecloud.com/oauth2/v1/token"]},
    },
    "client_id": {
        "label": "OAuth client ID",
        "description": "Client ID of the OFS cloud service's application in IAM",
        "schema": {"type": "string"},
    },
    "client_secret": {
        "label": "OAuth client secret",
        "description": "Client secret of the same application",
        "schema": {"type": "string", "format": "password"},
    },
    "tenant_id": {
        "label": "Tenant ID",
        "description": "Sent as the ofs_tenant_id header",
        "schema": {"type": "string"},
    },
    "service_id": {
        "label": "Service ID",
        "description": "Sent as the ofs_service_id header",
        "schema": {"type": "string"},
    },
    "workspace_id": {
        "label": "Workspace ID",
        "description": "Sent as the ofs_workspace_id header",
        "schema": {"type": ["string", "null"], "default": DEFAULT_WORKSPACE_ID},
    },
    "remote_user": {
        "label": "Remote user",
        "description": "Sent as ofs_remote_user: an OFS user mapped to BATCH_EXEC (empty: the IAM user name)",
        "schema": {"type": ["string", "null"]},
    },
    "locale": {
        "label": "Locale",
        "description": "Sent as the locale header",
        "schema": {"type": ["string", "null"], "default": DEFAULT_LOCALE},
    },
    "scope": {
        "label": "OAuth scope",
        "description": "offline_access makes IAM issue a refresh token",
        "schema": {"type": ["string", "null"], "default": DEFAULT_SCOPE},
    },
    "verify": {
        "label": "TLS verification",
        "description": "true, false (insecure: logged as a warning), or the path of a CA bundle (PEM) on the "
        "workers and triggerers",
        "schema": {"type": ["string", "null"], "default": "true", "examples": ["true", "false"]},
    },
    "proxy": {
        "label": "HTTP(S) proxy",
        "description": "Proxy URL for ESI and IAM calls, e.g. http://user:password@proxy.example.com:3128 "
        "(empty: the HTTPS_PROXY, HTTP_PROXY and NO_PROXY variables apply)",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "monitor_url": {
        "label": "Batch Monitor URL template",
        "description": "A run's page in the OFS Batch Monitor with {run_id}, and optionally {batch_name} and "
        "{host}, e.g. https://tenant.example.com/app/batch-monitor?run={run_id}: the task's OFS Batch Monitor link",
        "schema": {"type": ["string", "null"]},
    },
    "access_token": {
        "label": "Pre-issued access token",
        "description": "Optional: a token issued in IAM; when set it is used as is and no token is requested",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "timeout": {
        "label": "HTTP timeout (seconds)",
        "description": "Bounds each whole HTTP exchange",
        "schema": {"type": ["number", "null"], "default": DEFAULT_TIMEOUT},
    },
    "dynamic_params_format": {
        "label": "dynamicParamList format",
        "description": "string: a JSON-encoded string, as in the ESI guide; object: a JSON object, for editions "
        "that take one",
        "schema": {"type": ["string", "null"], "enum": list(DYNAMIC_PARAMS_FORMATS), "default": "string"},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema"],
    "relabeling": {
        "host": "Application base URL",
        "port": "Port (443 for https; Airflow 3.3's Test button needs it)",
        "login": "IAM user name",
        "password": "IAM password",
    },
    "placeholders": {
        "host": "https://tenant.example.com/app (the part before /SchedulerService)",
        "login": "IAM user mapped to BATCH_EXEC",
        "password": "IAM password",
        "port": "443",
        "iam_url": "https://idcs-xxxx.identity.oraclecloud.com/oauth2/v1/token",
        "client_id": "OAuth client ID",
        "client_secret": "OAuth client secret",
        "tenant_id": "ofs_tenant_id",
        "service_id": "ofs_service_id",
        "workspace_id": DEFAULT_WORKSPACE_ID,
        "remote_user": "defaults to the login",
        "locale": DEFAULT_LOCALE,
        "scope": DEFAULT_SCOPE,
        "verify": "true | false | /path/to/ca-bundle.pem",
        "proxy": "http://proxy.example.com:3128 (empty: the HTTPS_PROXY variable)",
        "monitor_url": "https://tenant.example.com/app/batch-monitor?run={run_id}",
        "access_token": "leave empty to use the password grant",
        "timeout": "60",
    },
}

#: The same behaviour in the form a hook's ``get_ui_field_behaviour()`` returns (Airflow 2.11 and 3.0-3.1), which
#: Airflow checks against its ``customized_form_field_behaviours`` schema: ``hidden_fields`` with an underscore.
HOOK_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
    "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
    "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
}
