"""Everything one simulator knows (runs, tokens, faults, journal), shared by handlers and controls."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

from airflow_provider_ofs.simulator.catalogue import Catalogue
from airflow_provider_ofs.simulator.credentials import SimulatorCredentials
from airflow_provider_ofs.simulator.engine import Engine
from airflow_provider_ofs.simulator.faults import FaultAnswer, FaultPlan, parse_fault_rule
from airflow_provider_ofs.simulator.journal import Journal
from airflow_provider_ofs.simulator.tokens import TokenStore


class SimulatorState:
    """Thread-safe: every part has its own lock, and none is held across an ``await``."""

    def __init__(
        self,
        catalogue: Catalogue,
        credentials: SimulatorCredentials,
        *,
        token_lifetime: int = 3600,
        speed: float = 1.0,
        slow_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.catalogue = catalogue
        self.credentials = credentials
        self.slow_seconds = slow_seconds
        self.engine = Engine(catalogue, speed=speed, clock=clock)
        self.tokens = TokenStore(token_lifetime, clock=clock)
        self.faults = FaultPlan()
        self.journal = Journal()
        self._arm_catalogue_faults()

    def _arm_catalogue_faults(self) -> None:
        for rule in self.catalogue.faults:
            self.faults.add(rule)

    def add_fault(self, verb: str, answers: Sequence[FaultAnswer], batch: str | None = None) -> None:
        rule = parse_fault_rule(verb, answers, batch)
        known = set(self.catalogue.batches) | set(self.catalogue.groups)
        if rule.batch is not None and rule.batch not in known:
            raise ValueError(f"fault names unknown batch or group {rule.batch!r}")
        self.faults.add(rule)

    def reset(self) -> None:
        """Forget runs, faults and journal; the catalogue's own faults are armed again."""
        self.engine.clear()
        self.faults.clear()
        self.journal.clear()
        self._arm_catalogue_faults()

    def fault_batch(self, verb: str, raw_body: bytes) -> str | None:
        """The batch or group a request is about, read leniently, to match faults."""
        try:
            body = json.loads(raw_body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(body, dict):
            return None
        run_id = body.get("batchRunId")
        if verb != "trigger" and isinstance(run_id, str):
            name = self.engine.batch_of(run_id)
            if name is not None:
                return name
        name = body.get("batchName")
        return name if isinstance(name, str) else None
