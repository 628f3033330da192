"""The demo's narration: what it prints about OFS runs, and the reasons it finds in an Airflow log."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from airflow_provider_ofs.simulator import RunCode, Simulator
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from airflow_provider_ofs.states import RunState
from demo.run import failure_reasons
from demo.watch import SimulatorWatcher


def test_watcher_narrates_trigger_failure_restart_and_success_of_a_run_from_the_journal(
    ofs_simulator_factory: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watcher looks only once, at the end: the FAILED state that explains the restart comes from the journal."""
    from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

    simulator = ofs_simulator_factory(speed=20)
    monkeypatch.setenv(CONN_ENV_VAR, simulator.connection_json())
    hook = OFSSchedulerHook()
    lines: list[str] = []

    with SimulatorWatcher(simulator, time.monotonic(), echo=lines.append, interval=3600) as watcher:
        run_id = hook.trigger("OFS_REG_CAPITAL_CALC")
        while hook.get_status(run_id).state is not RunState.FAILED:  # as an operator polls
            time.sleep(0.02)
        hook.restart("OFS_REG_CAPITAL_CALC", run_id)
        while hook.get_status(run_id).state is not RunState.SUCCESSFUL:
            time.sleep(0.02)

    text = "\n".join(lines)
    assert f"trigger OFS_REG_CAPITAL_CALC  =>  run {run_id}" in text
    assert "FAILED - task CALC_CREDIT_RWA FAILED" in text
    assert f"restart OFS_REG_CAPITAL_CALC  =>  run {run_id}" in text
    assert "SUCCESSFUL (attempt 2)" in text
    assert watcher.calls().startswith("1 token, 1 trigger")
    assert watcher.final_states[run_id].state is RunCode.SUCCESSFUL


def test_failure_reasons_are_the_last_distinct_exception_lines_of_the_log() -> None:
    log = "\n".join(
        [
            "[2026-03-31] INFO - Task started",
            "airflow_provider_ofs.exceptions.OFSRunFailedError: OFS run R1 ended FAILED (code -1: Failure); failed: T2",
            '    raise ValueError(f"bad {value}")',
            "airflow_provider_ofs.exceptions.OFSRunFailedError: OFS run R1 ended FAILED (code -1: Failure); failed: T2",
            "airflow.sdk.exceptions.ParamValidationError: Invalid input for param batch_run_id: No value passed",
        ]
    )

    assert failure_reasons(log) == [
        "ParamValidationError: Invalid input for param batch_run_id: No value passed",
        "OFSRunFailedError: OFS run R1 ended FAILED (code -1: Failure); failed: T2",
    ]
    assert failure_reasons("all good\n") == []
