"""Counters and timers under the ``ofs.`` prefix, sent through Airflow's own ``Stats`` (StatsD, Datadog, OTel).

Names (README, "Metrics"): ``ofs.esi.<verb>.success|failure|retry|duration`` for each ESI call,
``ofs.token.success|failure|retry|duration`` for token requests, and ``ofs.run.<batch>.<state>`` and
``ofs.run.<batch>.duration`` when a task's wait for a run ends (``<batch>``: ``batch_in_name``). A metric
never fails a call.
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import timedelta
from typing import Any

SUCCESS = "success"
FAILURE = "failure"
_NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9_-]+")
#: Most characters of the batch part of a metric name: with Airflow's default prefix (``airflow.``) the longest
#: name, ``airflow.ofs.run.<batch>.interrupted``, has 60, within what every metrics backend of Airflow takes
#: (OpenTelemetry's 63 on Airflow 2.11, 255 on 3.x; StatsD's 250).
MAX_BATCH_IN_NAME = 32
_DIGEST_LENGTH = 8
_stats: Any = None


def _send(method: str, name: str, *args: Any) -> None:
    global _stats
    try:
        if _stats is None:  # looked up once: the compat module resolves names lazily
            from airflow.providers.common.compat.sdk import Stats

            _stats = Stats
        getattr(_stats, method)(name, *args)
    except Exception:  # noqa: S110  (metrics are best effort: a broken backend must not fail a call)
        pass


def _call(verb: str) -> str:
    return "ofs.token" if verb == "token" else f"ofs.esi.{verb}"


def call_ended(verb: str, outcome: str, started: float) -> None:
    """One call (with its retries) ended in ``outcome``; ``started`` is when it was first sent (epoch s)."""
    name = _call(verb)
    _send("incr", f"{name}.{outcome}")
    _send("timing", f"{name}.duration", timedelta(seconds=time.time() - started))


def call_retried(verb: str) -> None:
    """One more attempt of a call, after a failure the retry rule allows to repeat."""
    _send("incr", f"{_call(verb)}.retry")


def run_ended(batch_name: str, state: str, waited_seconds: float) -> None:
    """A task's wait for a run of ``batch_name`` ended in ``state`` after ``waited_seconds``."""
    batch = batch_in_name(batch_name)
    _send("incr", f"ofs.run.{batch}.{state.lower()}")
    _send("timing", f"ofs.run.{batch}.duration", timedelta(seconds=waited_seconds))


def batch_in_name(batch_name: str) -> str:
    """The batch part of a metric name: the batch name itself when it has only ASCII letters, digits, ``_`` and
    ``-`` and at most ``MAX_BATCH_IN_NAME`` characters. Any other name is told apart by a digest: each run of
    other characters becomes one ``_``, the result keeps at most its first 23 characters (without ``_`` at
    its ends), then ``_`` and the first 8 hex digits of the SHA-256 of the batch name. So ``a.b``, ``a b``
    and ``a_b`` get three names, and a batch always gets the same one."""
    batch = _NOT_IN_A_NAME.sub("_", batch_name)
    if batch == batch_name and 0 < len(batch) <= MAX_BATCH_IN_NAME:
        return batch
    digest = hashlib.sha256(batch_name.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_LENGTH]
    kept = batch[: MAX_BATCH_IN_NAME - _DIGEST_LENGTH - 1].strip("_")
    return f"{kept}_{digest}" if kept else digest
