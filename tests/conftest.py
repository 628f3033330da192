"""Test set-up shared by every test: an isolated AIRFLOW_HOME, set before Airflow is imported."""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path

_HOME = Path(tempfile.mkdtemp(prefix="ofs-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(Path(__file__).parent / "dags"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
# No scheduler runs in-process or under `airflow dags test`, so no deferred task can meet the stale-success race
# that the settle time guards against (apache/airflow#72716); the tests under a real scheduler (AirflowCluster)
# start from a clean environment and keep the default.
os.environ.setdefault("AIRFLOW__OFS__DEFERRAL_SETTLE_SECONDS", "0")

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

from airflow_provider_ofs.tokens import TOKEN_CACHE  # noqa: E402
from airflow_provider_ofs.transport import _WARNED_PLAIN_HTTP  # noqa: E402
from tests.airflow_cli import airflow_cli  # noqa: E402, F401  (fixture)


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    """Each test starts with no cached token, so token counts are its own, and with no plain-http warning said."""
    TOKEN_CACHE.clear()
    _WARNED_PLAIN_HTTP.clear()
    yield
    TOKEN_CACHE.clear()


@pytest.fixture(autouse=True)
def _flat_secrets_masker() -> Iterator[None]:
    """Forget the tokens a test masked: Airflow recompiles one regex of every masked value on each new one."""
    yield
    for module in ("airflow.sdk.log", "airflow.sdk.execution_time.secrets_masker", "airflow.utils.log.secrets_masker"):
        try:
            masker = importlib.import_module(module)._secrets_masker()
        except (ImportError, AttributeError):
            continue
        reset = getattr(masker, "reset_masker", None)
        if reset is not None:
            reset()
        return
