"""What DAG authors pass to the operators, validated and put in wire form (pure: no I/O, no Airflow).

Names, codes, MIS dates and dynamic parameters; durations (``timeout``, ``poll_interval``); and whether a value
is a template, resolved (and so validated) only at execute time.

Operators check their arguments when a DAG file is parsed, so this module is kept light: no HTTP, no
settings, no dataclasses. ``protocol`` builds its requests with the same functions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

#: The connection id used when none is given (``OFSSchedulerHook.default_conn_name``).
DEFAULT_CONN_ID = "ofs_scheduler_default"
MIS_DATE_PARAM = "$FICMISDATE$"
MIS_DATE_FORM = re.compile(r"\d{4}-\d{2}-\d{2}")
#: ``mis_date`` for "the date of this DAG run", on a schedule, from the UI's Trigger dialog and from
#: ``airflow dags trigger`` alike: Airflow 3 starts those two without a logical date, where ``{{ ds }}`` is
#: undefined, and every DAG run has a ``run_after``.
MIS_DATE_OF_RUN = "{{ (dag_run.logical_date or dag_run.run_after).strftime('%Y-%m-%d') }}"
BATCH_TYPES = {"batch": "rest", "group": "group"}


def join_codes(name: str, codes: str | Iterable[str] | None) -> str:
    """Turn task or batch codes (a list, or an already comma-separated string) into the wire's comma list."""
    if codes is None:
        return ""
    if isinstance(codes, str):
        items = codes.split(",")
    else:
        items = [str(code) for code in codes]
        if any("," in code for code in items):
            raise ValueError(f"{name}: a code may not contain a comma: {items!r}")
    return ",".join(code.strip() for code in items if code.strip())


def wire_batch_type(batch_type: str) -> str:
    """Map the public ``batch``/``group`` to the wire's ``rest``/``group`` (ESI-NOTES 4)."""
    try:
        return BATCH_TYPES[batch_type]
    except KeyError:
        raise ValueError(f"batch_type must be 'batch' or 'group', not {batch_type!r}") from None


def require_name(name: str, value: str) -> str:
    """Reject an empty batch name or run id before anything is sent."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, not {value!r}")
    return value.strip()


def mis_date_text(mis_date: str | date | None) -> str | None:
    """Validate a MIS date (``yyyy-mm-dd`` text, date or datetime) and return it as ``yyyy-mm-dd``."""
    if mis_date is None or mis_date == "":
        return None
    if isinstance(mis_date, datetime):
        return mis_date.date().isoformat()
    if isinstance(mis_date, date):
        return mis_date.isoformat()
    text = mis_date.strip() if isinstance(mis_date, str) else ""
    try:
        # Only yyyy-mm-dd: Python 3.11+ would also read "20260131" and ISO weeks ("2026-W05-3").
        if not MIS_DATE_FORM.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"mis_date must be a date in yyyy-mm-dd form, not {mis_date!r}") from None


def encode_dynamic_params(
    batch_type: str,
    *,
    mis_date: str | date | None = None,
    batch_params: Mapping[str, Any] | None = None,
    task_params: Mapping[str, Mapping[str, Any]] | None = None,
    group_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> str | None:
    """Encode ``dynamicParamList``, a JSON string (ESI-NOTES 5); ``mis_date`` fills ``$FICMISDATE$`` (NOTES 6).

    For a batch: ``{"batchParams": {...}, "taskRuntimeParams": {"<TASK>": {...}}}``. For a group, one
    entry per batch of ``group_params`` (batch code → ``{"batchParams": ..., "taskRuntimeParams": ...}``).
    Returns ``None`` when there is nothing to send.
    """
    wire_batch_type(batch_type)
    mis = mis_date_text(mis_date)
    for name, params in (("batch_params", batch_params), ("task_params", task_params), ("group_params", group_params)):
        refuse_non_finite(name, params)
    if batch_type == "batch":
        if group_params:
            raise ValueError("group_params applies to batch_type='group' only")
        params = _batch_entry(mis, batch_params, task_params)
        return _encode(params) if params else None
    if batch_params or task_params:
        raise ValueError("for a group, pass batch and task parameters per batch in group_params")
    if not group_params:
        if mis is not None:
            raise ValueError("mis_date for a group needs group_params naming the group's batches")
        return None
    entries = []
    for batch_name, batch_entry in group_params.items():
        unknown = set(batch_entry) - {"batchParams", "taskRuntimeParams"}
        if unknown:
            raise ValueError(
                f"group_params[{batch_name!r}] may hold 'batchParams' and 'taskRuntimeParams', not {sorted(unknown)}"
            )
        entry = _batch_entry(mis, batch_entry.get("batchParams"), batch_entry.get("taskRuntimeParams"))
        entries.append({"batchName": require_name("group_params key", batch_name), **entry})
    return _encode(entries)


def dynamic_param_list(batch_type: str, dynamic_params: str | Mapping[str, Any] | None) -> str | None:
    """``dynamicParamList`` from what a hook caller passes: a mapping in the wire shape, or an encoded string.

    For a batch the mapping is ``{"batchParams": {...}, "taskRuntimeParams": {"<TASK>": {...}}}``; for a
    group, batch code → such a mapping. A string is taken as already encoded; any other type is a
    ``TypeError`` before anything is sent.
    """
    if dynamic_params is None or isinstance(dynamic_params, str):
        return dynamic_params or None
    if not isinstance(dynamic_params, Mapping):
        raise TypeError(
            "dynamic_params must be a mapping in the wire shape ({'batchParams': {...}, 'taskRuntimeParams': {...}}"
            f", or batch code -> that for a group) or an encoded JSON string, not {type(dynamic_params).__name__}"
        )
    refuse_non_finite("dynamic_params", dynamic_params)
    if batch_type == "group":
        return encode_dynamic_params(batch_type, group_params=dynamic_params)
    unknown = set(dynamic_params) - {"batchParams", "taskRuntimeParams"}
    if unknown:
        raise ValueError(f"dynamic_params may hold 'batchParams' and 'taskRuntimeParams', not {sorted(unknown)}")
    return encode_dynamic_params(
        batch_type,
        batch_params=dynamic_params.get("batchParams"),
        task_params=dynamic_params.get("taskRuntimeParams"),
    )


def refuse_non_finite(name: str, value: Any) -> None:
    """Refuse a NaN or an Infinity anywhere in ``value``, naming it by its keys: JSON has neither, so the
    request would not be valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} is {value!r}: JSON has no NaN or Infinity, so it cannot be sent; give a number")
    if isinstance(value, Mapping):
        for key, item in value.items():
            refuse_non_finite(f"{name}[{key!r}]", item)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            refuse_non_finite(f"{name}[{index}]", item)


def is_template(value: Any) -> bool:
    """Whether an argument is resolved (and so validated) only at execute time.

    That is a Jinja template, or an ``XComArg`` such as ``upstream_task.output`` (anything with ``resolve``).
    """
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    return callable(getattr(value, "resolve", None))


def seconds(name: str, value: float | timedelta | None) -> float | None:
    """An optional duration argument in seconds (number or ``timedelta``); an error naming it when invalid."""
    return None if value is None else required_seconds(name, value)


#: Shortest pause between two status calls of one wait: zero would poll ESI in a busy loop.
MIN_POLL_INTERVAL = 0.01


def poll_seconds(value: float | timedelta) -> float:
    """A ``poll_interval`` in seconds, at least ``MIN_POLL_INTERVAL``; an error naming it otherwise."""
    interval = required_seconds("poll_interval", value)
    if interval < MIN_POLL_INTERVAL:
        raise ValueError(
            f"poll_interval must be at least {MIN_POLL_INTERVAL} s (a minute suits real batches), got {value!r}"
        )
    return interval


def required_seconds(name: str, value: float | timedelta) -> float:
    """A duration argument in seconds (number or ``timedelta``); negative or non-numeric is an error naming it."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of seconds or a timedelta, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return float(value)


def _batch_entry(
    mis: str | None,
    batch_params: Mapping[str, Any] | None,
    task_params: Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, Any]:
    params = dict(batch_params or {})
    if mis is not None:
        params[MIS_DATE_PARAM] = mis
    entry: dict[str, Any] = {}
    if params:
        entry["batchParams"] = params
    if task_params:
        entry["taskRuntimeParams"] = {code: dict(values) for code, values in task_params.items()}
    return entry


def _encode(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), default=_json_default)
    except (TypeError, ValueError) as error:
        raise ValueError(f"dynamic parameters must be JSON-serialisable: {error}") from None


def _json_default(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
