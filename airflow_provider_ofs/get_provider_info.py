"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_ofs import __version__

#: Where the project lives; ``pyproject.toml``'s ``[project.urls]`` name the same files.
SOURCE_URL = "https://github.com/airflow-provider-ofs/airflow-provider-ofs"
DOCUMENTATION_URL = f"{SOURCE_URL}/blob/main/README.md"
HOW_TO_GUIDES = [
    f"{SOURCE_URL}/blob/main/README.md",
    f"{SOURCE_URL}/blob/main/docs/simulator.md",
    f"{SOURCE_URL}/blob/main/docs/ESI-NOTES.md",
]

INTEGRATION = "Oracle Financial Services (OFS) External Scheduler"

# Connection form fields (Airflow 3.2+ reads these; 2.11 asks the hook, which builds its form from them too).
CONNECTION_FIELDS: dict[str, dict[str, Any]] = {
    "token_url": {
        "label": "IAM token URL",
        "description": "Oracle IAM token endpoint, e.g. https://<iam-host>/oauth2/v1/token",
        "schema": {"type": ["string", "null"]},
    },
    "client_id": {
        "label": "OAuth client ID",
        "description": "Client ID of the OFS cloud service in IAM",
        "schema": {"type": ["string", "null"]},
    },
    "client_secret": {
        "label": "OAuth client secret",
        "description": "Client secret of the OFS cloud service in IAM",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "tenant_id": {
        "label": "Tenant ID",
        "description": "Sent as the ofs_tenant_id header",
        "schema": {"type": ["string", "null"]},
    },
    "service_id": {
        "label": "Service ID",
        "description": "Sent as the ofs_service_id header",
        "schema": {"type": ["string", "null"]},
    },
    "workspace_id": {
        "label": "Workspace ID",
        "description": "Sent as the ofs_workspace_id header (default WS001)",
        "schema": {"type": ["string", "null"]},
    },
    "remote_user": {
        "label": "Remote user",
        "description": "Sent as ofs_remote_user; a user mapped to BATCH_EXEC (default: the login)",
        "schema": {"type": ["string", "null"]},
    },
    "locale": {
        "label": "Locale",
        "description": "Sent as the locale header (default en-US)",
        "schema": {"type": ["string", "null"]},
    },
    "scope": {
        "label": "OAuth scope",
        "description": "Default urn:opc:idm:__myscopes__ offline_access",
        "schema": {"type": ["string", "null"]},
    },
    "verify": {
        "label": "TLS verification",
        "description": "true (default), false (insecure), or the path of a CA bundle (PEM)",
        "schema": {"type": ["string", "null"]},
    },
    "proxy": {
        "label": "HTTP(S) proxy",
        "description": "Proxy URL for ESI and IAM calls; empty: HTTPS_PROXY/HTTP_PROXY/NO_PROXY apply",
        "schema": {"type": ["string", "null"]},
    },
    "monitor_url": {
        "label": "Batch Monitor URL template",
        "description": "A run's page in the OFS Batch Monitor, with {run_id}, {batch_name}, {host}: "
        "shown as the OFS Batch Monitor link of the task",
        "schema": {"type": ["string", "null"]},
    },
    "access_token": {
        "label": "Pre-issued access token",
        "description": "Optional: a token issued in IAM; when set, no token request is made",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "timeout": {
        "label": "HTTP timeout (seconds)",
        "description": "Per request; default 60",
        "schema": {"type": ["number", "null"]},
    },
    "dynamic_params_format": {
        "label": "dynamicParamList format",
        "description": "string (default: a JSON-encoded string, as in the guide) or object (editions that take JSON)",
        "schema": {"type": ["string", "null"]},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {"host": "Application base URL", "login": "IAM user name", "password": "IAM password"},
    "placeholders": {
        "host": "https://tenant.example.com/app (the part before /SchedulerService)",
        "login": "IAM user mapped to BATCH_EXEC",
        "password": "IAM password",
        "token_url": "https://idcs-xxxx.identity.oraclecloud.com/oauth2/v1/token",
        "client_id": "OAuth client ID",
        "client_secret": "OAuth client secret",
        "tenant_id": "ofs_tenant_id",
        "service_id": "ofs_service_id",
        "workspace_id": "WS001",
        "remote_user": "defaults to the login",
        "locale": "en-US",
        "scope": "urn:opc:idm:__myscopes__ offline_access",
        "verify": "true | false | /path/to/ca-bundle.pem",
        "proxy": "http://proxy.example.com:3128 (empty: the HTTPS_PROXY variable)",
        "monitor_url": "https://tenant.example.com/app/batch-monitor?run={run_id}",
        "access_token": "leave empty to use the password grant",
        "timeout": "60",
        "dynamic_params_format": "string | object",
    },
}


def get_provider_info() -> dict[str, Any]:
    """Describe the package, its connection type, hooks, operators, sensors and triggers to Airflow."""
    return {
        "package-name": "airflow-provider-ofs",
        "name": "Oracle Financial Services (OFS)",
        "description": "Trigger, watch, interrupt, restart and rerun OFS batches and batch groups "
        "through the OFS External Scheduler Interface.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": DOCUMENTATION_URL,
                "how-to-guide": HOW_TO_GUIDES,
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": INTEGRATION, "python-modules": ["airflow_provider_ofs.hooks.scheduler"]}],
        "operators": [{"integration-name": INTEGRATION, "python-modules": ["airflow_provider_ofs.operators.batch"]}],
        "sensors": [{"integration-name": INTEGRATION, "python-modules": ["airflow_provider_ofs.sensors.batch"]}],
        "triggers": [{"integration-name": INTEGRATION, "python-modules": ["airflow_provider_ofs.triggers.batch"]}],
        "extra-links": ["airflow_provider_ofs.published.OFSBatchMonitorLink"],
        "connection-types": [
            {
                "connection-type": "ofs_scheduler",
                "hook-class-name": "airflow_provider_ofs.hooks.scheduler.OFSSchedulerHook",
                "hook-name": "OFS External Scheduler",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONNECTION_FIELDS,
            }
        ],
    }
