"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_ofs import __version__
from airflow_provider_ofs.connection_form import CONNECTION_FIELDS, UI_FIELD_BEHAVIOUR

#: Where the project lives; ``pyproject.toml``'s ``[project.urls]`` name the same files.
SOURCE_URL = "https://github.com/airflow-provider-ofs/airflow-provider-ofs"
DOCUMENTATION_URL = f"{SOURCE_URL}/blob/main/README.md"
HOW_TO_GUIDES = [
    f"{SOURCE_URL}/blob/main/README.md",
    f"{SOURCE_URL}/blob/main/docs/simulator.md",
    f"{SOURCE_URL}/blob/main/docs/ESI-NOTES.md",
]

INTEGRATION = "Oracle Financial Services (OFS) External Scheduler"


#: The ``ofs://`` scheme of batch assets (``airflow_provider_ofs.assets``): normaliser, factory, OpenLineage converter.
ASSET_URIS = [
    {
        "schemes": ["ofs"],
        "handler": "airflow_provider_ofs.assets.sanitize_uri",
        "factory": "airflow_provider_ofs.assets.create_asset",
        "to_openlineage_converter": "airflow_provider_ofs.assets.convert_asset_to_openlineage",
    }
]


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
        "asset-uris": ASSET_URIS,
        "dataset-uris": ASSET_URIS,  # the same entries under Airflow 2's name
        "connection-types": [
            {
                "connection-type": "ofs_scheduler",
                "hook-class-name": "airflow_provider_ofs.hooks.scheduler.OFSSchedulerHook",
                "hook-name": "OFS External Scheduler",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONNECTION_FIELDS,
            }
        ],
        "config": {
            "ofs": {
                "description": "Settings of the OFS provider that apply to every task of this Airflow.",
                "options": {
                    "deferral_settle_seconds": {
                        "description": "Least seconds from a task's deferral to its trigger's first status call, "
                        "so that the task never resumes before the scheduler has seen the deferring process exit "
                        "(Airflow 3 fails a task resumed in that window: apache/airflow#72716). A run that is "
                        "already over never defers: the task looks at it first.",
                        "version_added": "0.2.0",
                        "type": "float",
                        "example": "30",
                        "default": "30",  # _compat.DEFERRAL_SETTLE_SECONDS (this module imports no Airflow)
                    },
                    "queue": {
                        "description": "The queue of every OFS operator and sensor that names none itself or in "
                        "its default_args: the Celery queue of its worker side and, with [triggerer] "
                        "queues_enabled (Airflow 3.2+), the queue of its trigger. Set it where OFS is reachable "
                        "from some hosts only (README, Network zones). Empty: [operators] default_queue.",
                        "version_added": "0.2.0",
                        "type": "string",
                        "example": "ofs",
                        "default": "",
                    },
                },
            }
        },
    }
