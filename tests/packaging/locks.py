"""The lock this test run's environment was installed under (``make venv``): ``locks/airflow-<airflow>-py<x.y>.txt``."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_VERSION = importlib.metadata.version("apache-airflow")
LOCK = ROOT / "locks" / f"airflow-{AIRFLOW_VERSION}-py{sys.version_info.major}.{sys.version_info.minor}.txt"
