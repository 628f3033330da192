"""The simulator's catalogue: which batches and groups exist, their tasks, and preset faults.

Shape (docs/simulator.md), as JSON or YAML::

    {"batches": {"DAILY_LOAD": {"tasks": [{"code": "T1", "seconds": 1.5, "outcome": "success"}],
                                "rerun_keeps_run_id": false, "start_delay": 0}},
     "groups": {"EOD": {"batches": ["DAILY_LOAD"]}},
     "faults": [{"verb": "status", "batch": "DAILY_LOAD", "answers": [503, "reset"]}],
     "params_format": "string", "strict": false}

``outcome`` is ``success``, ``fail``, ``fail_once`` (fails on the first attempt, succeeds once
retried) or ``abort``. ``params_format`` is the OFS edition's ``dynamicParamList``: ``string`` (a JSON-encoded
string, this guide) or ``object`` (a JSON object, or list for a group); the other form is refused with -4.
``strict`` refuses what a real tenant might refuse too (the misspelt ``FICMISDATE$`` key). Validation
errors name the offending entry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from airflow_provider_ofs.simulator.faults import FaultRule, parse_fault_rule

OUTCOMES = ("success", "fail", "fail_once", "abort")
PARAMS_FORMATS = ("string", "object")
DEMO_CATALOGUE = "demo_catalogue.json"


class CatalogueError(ValueError):
    """The catalogue is malformed; the message names the bad entry."""


@dataclass(frozen=True)
class TaskSpec:
    """One task of a batch: how long it runs (at speed 1) and how it ends."""

    code: str
    seconds: float
    outcome: str = "success"


@dataclass(frozen=True)
class BatchSpec:
    """A batch: tasks run in list order."""

    name: str
    tasks: tuple[TaskSpec, ...]
    rerun_keeps_run_id: bool = False
    start_delay: float = 0.0

    @property
    def task_codes(self) -> tuple[str, ...]:
        return tuple(task.code for task in self.tasks)

    def task(self, code: str) -> TaskSpec:
        for task in self.tasks:
            if task.code == code:
                return task
        raise KeyError(code)


@dataclass(frozen=True)
class GroupSpec:
    """A batch group: its batches run in list order, each as a child run."""

    name: str
    batches: tuple[str, ...]
    rerun_keeps_run_id: bool = False


@dataclass(frozen=True)
class Catalogue:
    """Validated catalogue."""

    batches: Mapping[str, BatchSpec]
    groups: Mapping[str, GroupSpec] = field(default_factory=dict)
    faults: tuple[FaultRule, ...] = ()
    params_format: str = "string"
    strict: bool = False

    def describe(self) -> str:
        """One line per batch and group, for the CLI banner."""
        lines = []
        for batch in self.batches.values():
            total = sum(task.seconds for task in batch.tasks)
            outcomes = ",".join(sorted({task.outcome for task in batch.tasks}))
            lines.append(f"  batch {batch.name}: {len(batch.tasks)} tasks, {total:g}s, outcomes {outcomes}")
        for group in self.groups.values():
            lines.append(f"  group {group.name}: {', '.join(group.batches)}")
        return "\n".join(lines)


def load_catalogue(source: Catalogue | Mapping[str, Any] | str | Path | None = None) -> Catalogue:
    """Load and validate a catalogue from None (the built-in demo), a mapping or a JSON/YAML file."""
    if isinstance(source, Catalogue):
        return source
    if source is None:
        text = resources.files(__package__).joinpath(DEMO_CATALOGUE).read_text(encoding="utf-8")
        return parse_catalogue(json.loads(text), origin="built-in demo catalogue")
    if isinstance(source, Mapping):
        return parse_catalogue(source, origin="catalogue")
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"cannot read catalogue {path}: {exc.strerror or exc}") from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml  # optional dependency: only needed for YAML catalogues
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise CatalogueError(
                f"catalogue {path} is YAML but PyYAML is not installed (pip install 'airflow-provider-ofs[yaml]')"
            ) from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CatalogueError(f"catalogue {path} is not valid YAML: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CatalogueError(f"catalogue {path} is not valid JSON: {exc}") from exc
    return parse_catalogue(data, origin=str(path))


def parse_catalogue(data: object, *, origin: str = "catalogue") -> Catalogue:
    """Validate the decoded catalogue document."""
    if not isinstance(data, Mapping):
        raise CatalogueError(f"{origin}: the top level must be an object with 'batches'")
    unknown = set(data) - {"batches", "groups", "faults", "params_format", "strict"}
    if unknown:
        raise CatalogueError(f"{origin}: unknown top-level keys {sorted(unknown)}")
    raw_batches = data.get("batches")
    if not isinstance(raw_batches, Mapping) or not raw_batches:
        raise CatalogueError(f"{origin}: 'batches' must be a non-empty object of batch name -> batch")
    batches = {name: _parse_batch(origin, name, raw) for name, raw in raw_batches.items()}
    raw_groups = data.get("groups") or {}
    if not isinstance(raw_groups, Mapping):
        raise CatalogueError(f"{origin}: 'groups' must be an object of group name -> group")
    groups = {name: _parse_group(origin, name, raw, batches) for name, raw in raw_groups.items()}
    clash = set(batches) & set(groups)
    if clash:
        raise CatalogueError(f"{origin}: names used for both a batch and a group: {sorted(clash)}")
    raw_faults = data.get("faults") or []
    if not isinstance(raw_faults, list):
        raise CatalogueError(f"{origin}: 'faults' must be a list")
    faults = []
    for index, raw in enumerate(raw_faults):
        where = f"{origin}: faults[{index}]"
        if not isinstance(raw, Mapping):
            raise CatalogueError(f"{where} must be an object with 'verb' and 'answers'")
        try:
            rule = parse_fault_rule(raw.get("verb"), raw.get("answers"), raw.get("batch"))
        except ValueError as exc:
            raise CatalogueError(f"{where}: {exc}") from exc
        if rule.batch is not None and rule.batch not in batches and rule.batch not in groups:
            raise CatalogueError(f"{where}: unknown batch or group {rule.batch!r}")
        faults.append(rule)
    params_format = data.get("params_format", "string")
    if params_format not in PARAMS_FORMATS:
        raise CatalogueError(f"{origin}: 'params_format' must be one of {PARAMS_FORMATS}, got {params_format!r}")
    strict = data.get("strict", False)
    if not isinstance(strict, bool):
        raise CatalogueError(f"{origin}: 'strict' must be true or false")
    return Catalogue(batches, groups, tuple(faults), params_format=str(params_format), strict=strict)


def _name(origin: str, kind: str, name: object) -> str:
    if not isinstance(name, str) or not name.strip() or "," in name:
        raise CatalogueError(f"{origin}: {kind} name {name!r} must be a non-empty string without commas")
    return name


def _parse_batch(origin: str, name: object, raw: object) -> BatchSpec:
    batch_name = _name(origin, "batch", name)
    where = f"{origin}: batch {batch_name!r}"
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"{where} must be an object with 'tasks'")
    unknown = set(raw) - {"tasks", "rerun_keeps_run_id", "start_delay", "description"}
    if unknown:
        raise CatalogueError(f"{where}: unknown keys {sorted(unknown)}")
    raw_tasks = raw.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise CatalogueError(f"{where}: 'tasks' must be a non-empty list")
    tasks = [_parse_task(where, index, item) for index, item in enumerate(raw_tasks)]
    codes = [task.code for task in tasks]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise CatalogueError(f"{where}: duplicate task codes {duplicates}")
    keeps = raw.get("rerun_keeps_run_id", False)
    if not isinstance(keeps, bool):
        raise CatalogueError(f"{where}: 'rerun_keeps_run_id' must be true or false")
    delay = _seconds(f"{where}: 'start_delay'", raw.get("start_delay", 0))
    return BatchSpec(batch_name, tuple(tasks), rerun_keeps_run_id=keeps, start_delay=delay)


def _parse_task(where: str, index: int, raw: object) -> TaskSpec:
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"{where}: tasks[{index}] must be an object with 'code', 'seconds', 'outcome'")
    unknown = set(raw) - {"code", "seconds", "outcome", "description"}
    if unknown:
        raise CatalogueError(f"{where}: tasks[{index}] has unknown keys {sorted(unknown)}")
    code = _name(f"{where}: tasks[{index}]", "task", raw.get("code"))
    seconds = _seconds(f"{where}: task {code!r} 'seconds'", raw.get("seconds", 1.0))
    outcome = raw.get("outcome", "success")
    if outcome not in OUTCOMES:
        raise CatalogueError(f"{where}: task {code!r} has outcome {outcome!r}; expected one of {OUTCOMES}")
    return TaskSpec(code=code, seconds=seconds, outcome=str(outcome))


def _seconds(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise CatalogueError(f"{where} must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _parse_group(origin: str, name: object, raw: object, batches: Mapping[str, BatchSpec]) -> GroupSpec:
    group_name = _name(origin, "group", name)
    where = f"{origin}: group {group_name!r}"
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"{where} must be an object with 'batches'")
    unknown = set(raw) - {"batches", "rerun_keeps_run_id", "description"}
    if unknown:
        raise CatalogueError(f"{where}: unknown keys {sorted(unknown)}")
    members = raw.get("batches")
    if not isinstance(members, list) or not members:
        raise CatalogueError(f"{where}: 'batches' must be a non-empty list of batch names")
    for member in members:
        if member not in batches:
            raise CatalogueError(f"{where}: unknown batch {member!r}")
    if len(set(members)) != len(members):
        raise CatalogueError(f"{where}: a batch is listed twice")
    keeps = raw.get("rerun_keeps_run_id", False)
    if not isinstance(keeps, bool):
        raise CatalogueError(f"{where}: 'rerun_keeps_run_id' must be true or false")
    return GroupSpec(group_name, tuple(members), rerun_keeps_run_id=keeps)


__all__ = [
    "OUTCOMES",
    "PARAMS_FORMATS",
    "BatchSpec",
    "Catalogue",
    "CatalogueError",
    "GroupSpec",
    "TaskSpec",
    "load_catalogue",
    "parse_catalogue",
]
