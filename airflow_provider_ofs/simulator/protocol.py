"""Validation of ESI request bodies into typed requests (pure, no I/O).

Order of checks and codes: malformed or missing fields are ``-4``; names that do not exist
(batch, group, task code, child batch) are ``-3``. Rules from ESI-NOTES: 4 (``batchType`` is
``rest`` or ``group``), 5 and 15 (``dynamicParamList`` is a JSON-encoded string, or in ``object`` editions
a JSON object or list; the other form is -4), 6 (MIS date key ``$FICMISDATE$``, also ``FICMISDATE$``
unless the catalogue is ``strict``), 7 (``batchRunId`` is the body key), 16 (``includedTasks``: only
those tasks or child batches run, the others are excluded).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_ofs.simulator.catalogue import BatchSpec, Catalogue
from airflow_provider_ofs.simulator.codes import ApiCode, EsiError

MIS_DATE_KEYS = ("$FICMISDATE$", "FICMISDATE$")
MISSPELT_MIS_DATE_KEY = "FICMISDATE$"


@dataclass(frozen=True)
class BatchParams:
    """Run-time parameters of one batch (``batchParams`` and ``taskRuntimeParams``)."""

    batch_params: Mapping[str, Any] = field(default_factory=dict)
    task_runtime_params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def mis_date(self) -> str | None:
        for key in MIS_DATE_KEYS:
            if key in self.batch_params:
                return str(self.batch_params[key])
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"batchParams": dict(self.batch_params), "taskRuntimeParams": dict(self.task_runtime_params)}


@dataclass(frozen=True)
class TriggerRequest:
    name: str
    is_group: bool
    excluded: tuple[str, ...]
    held: tuple[str, ...]
    batch_params: BatchParams | None = None  # batch form
    group_params: Mapping[str, BatchParams] | None = None  # group form, by child batch name

    @property
    def mis_date(self) -> str | None:
        if self.batch_params is not None:
            return self.batch_params.mis_date
        for params in (self.group_params or {}).values():
            if params.mis_date:
                return params.mis_date
        return None


@dataclass(frozen=True)
class StatusRequest:
    run_id: str
    tasks: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RunActionRequest:
    """Body of interrupt, restart and rerun."""

    name: str
    run_id: str


def _invalid(message: str) -> EsiError:
    return EsiError(ApiCode.INVALID_ARGUMENTS, message)


def _missing(message: str) -> EsiError:
    return EsiError(ApiCode.NOT_FOUND, message)


def decode_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body, or -4."""
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _invalid(f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise _invalid("Request body must be a JSON object")
    return body


def _required_string(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"'{key}' is required and must be a non-empty string")
    return value.strip()


def _code_list(body: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key)
    if value is None:
        return ()
    if not isinstance(value, str):
        raise _invalid(f"'{key}' must be a comma-separated string, not {type(value).__name__}")
    return tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


def _check_mis_date(params: BatchParams, where: str) -> None:
    value = params.mis_date
    if value is None:
        return
    try:
        dt.date.fromisoformat(value)
    except ValueError as exc:
        raise _invalid(f"{where}: MIS date {value!r} is not a yyyy-mm-dd date") from exc
    if len(value) != 10:
        raise _invalid(f"{where}: MIS date {value!r} is not a yyyy-mm-dd date")


def _batch_params(raw: Mapping[str, Any], spec: BatchSpec, where: str, allowed: set[str], strict: bool) -> BatchParams:
    unknown = set(raw) - allowed
    if unknown:
        raise _invalid(f"{where}: unexpected keys {sorted(unknown)} in dynamicParamList")
    batch_params = raw.get("batchParams") or {}
    task_params = raw.get("taskRuntimeParams") or {}
    if not isinstance(batch_params, dict):
        raise _invalid(f"{where}: 'batchParams' must be an object")
    if strict and MISSPELT_MIS_DATE_KEY in batch_params:
        raise _invalid(f"{where}: unknown batch parameter {MISSPELT_MIS_DATE_KEY!r}; the MIS date is '$FICMISDATE$'")
    if not isinstance(task_params, dict):
        raise _invalid(f"{where}: 'taskRuntimeParams' must be an object of task code -> object")
    for code, value in task_params.items():
        if code not in spec.task_codes:
            raise _missing(f"{where}: task {code!r} does not exist in batch {spec.name}")
        if not isinstance(value, dict):
            raise _invalid(f"{where}: taskRuntimeParams[{code!r}] must be an object")
    params = BatchParams(batch_params, task_params)
    _check_mis_date(params, where)
    return params


def _decode_dynamic(value: object, params_format: str) -> Any:
    """ESI-NOTES 5, 15: the parameter list travels as a JSON-encoded string, or as JSON in ``object`` editions."""
    if value is None or value == "":
        return None
    if params_format == "object":
        if isinstance(value, str):
            raise _invalid("'dynamicParamList' must be a JSON object (a list for a group), not a JSON-encoded string")
        return value
    if not isinstance(value, str):
        raise _invalid("'dynamicParamList' must be a JSON-encoded string, not a JSON " + type(value).__name__)
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise _invalid(f"'dynamicParamList' is not valid JSON: {exc}") from exc


def _excluded_by_inclusion(
    included: tuple[str, ...], excluded: tuple[str, ...], held: tuple[str, ...], members: tuple[str, ...]
) -> tuple[str, ...]:
    """ESI-NOTES 16: with ``includedTasks``, every code not included (nor held) is excluded as well."""
    if not included:
        return excluded
    clash = sorted(set(included) & set(excluded))
    if clash:
        raise _invalid(f"{clash} are both included and excluded")
    return tuple(dict.fromkeys((*excluded, *(c for c in members if c not in included and c not in held))))


def parse_trigger(body: Mapping[str, Any], catalogue: Catalogue) -> TriggerRequest:
    name = _required_string(body, "batchName")
    batch_type = body.get("batchType")
    if batch_type not in ("rest", "group"):  # ESI-NOTES 4
        raise _invalid(f"'batchType' must be 'rest' (batch) or 'group', got {batch_type!r}")
    excluded = _code_list(body, "excludedTasks")
    held = _code_list(body, "heldTasks")
    included = _code_list(body, "includedTasks")
    both = sorted(set(excluded) & set(held))
    if both:
        raise _invalid(f"{both} are both excluded and held")
    dynamic = _decode_dynamic(body.get("dynamicParamList"), catalogue.params_format)
    if batch_type == "rest":
        spec = catalogue.batches.get(name)
        if spec is None:
            kind = "is a batch group, not a batch" if name in catalogue.groups else "does not exist"
            raise _missing(f"Batch {name} {kind}")
        for code in (*excluded, *held, *included):
            if code not in spec.task_codes:
                raise _missing(f"Task {code} does not exist in batch {name}")
        excluded = _excluded_by_inclusion(included, excluded, held, spec.task_codes)
        params = None
        if dynamic is not None:
            if not isinstance(dynamic, dict):
                raise _invalid("'dynamicParamList' of a batch must be an object with 'batchParams'")
            params = _batch_params(dynamic, spec, name, {"batchParams", "taskRuntimeParams"}, catalogue.strict)
        return TriggerRequest(name, False, excluded, held, batch_params=params)
    group = catalogue.groups.get(name)
    if group is None:
        kind = "is a batch, not a batch group" if name in catalogue.batches else "does not exist"
        raise _missing(f"Batch group {name} {kind}")
    for code in (*excluded, *held, *included):
        if code not in group.batches:
            raise _missing(f"Batch {code} is not part of batch group {name}")
    excluded = _excluded_by_inclusion(included, excluded, held, group.batches)
    group_params: dict[str, BatchParams] | None = None
    if dynamic is not None:
        if not isinstance(dynamic, list):
            raise _invalid("'dynamicParamList' of a group must be a list of {batchName, batchParams, ...}")
        group_params = {}
        for index, item in enumerate(dynamic):
            where = f"dynamicParamList[{index}]"
            if not isinstance(item, dict):
                raise _invalid(f"{where} must be an object with 'batchName'")
            child = _required_string(item, "batchName")
            if child not in group.batches:
                raise _missing(f"{where}: batch {child} is not part of batch group {name}")
            allowed = {"batchName", "batchParams", "taskRuntimeParams"}
            group_params[child] = _batch_params(item, catalogue.batches[child], where, allowed, catalogue.strict)
    return TriggerRequest(name, True, excluded, held, group_params=group_params)


def parse_status(body: Mapping[str, Any]) -> StatusRequest:
    run_id = _required_string(body, "batchRunId")  # ESI-NOTES 7
    tasks = body.get("tasks")
    if tasks is None:
        return StatusRequest(run_id)
    if not isinstance(tasks, list) or not all(isinstance(t, str) and t for t in tasks):
        raise _invalid("'tasks' must be a list of task codes")
    return StatusRequest(run_id, tuple(tasks))


def parse_run_action(body: Mapping[str, Any]) -> RunActionRequest:
    return RunActionRequest(_required_string(body, "batchName"), _required_string(body, "batchRunId"))
