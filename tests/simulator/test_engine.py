"""Unit tests of the run state machine with a fake clock (no server, no sleeping)."""

from __future__ import annotations

import pytest
from esi_sim_support import CATALOGUE

from airflow_provider_ofs.simulator.catalogue import load_catalogue
from airflow_provider_ofs.simulator.codes import ApiCode, EsiError, RunCode
from airflow_provider_ofs.simulator.engine import Engine
from airflow_provider_ofs.simulator.protocol import parse_trigger


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(clock: Clock) -> Engine:
    return Engine(load_catalogue(CATALOGUE), speed=1.0, clock=clock)


def trigger(engine: Engine, name: str, batch_type: str = "rest", **fields: str) -> str:
    body = {"batchName": name, "batchType": batch_type, **fields}
    return engine.trigger(parse_trigger(body, engine.catalogue)).run_id


def test_tasks_run_in_order_and_time_is_lazy(engine: Engine, clock: Clock) -> None:
    run_id = trigger(engine, "QUICK")
    view = engine.status(run_id)
    assert view.state is RunCode.ONGOING
    assert [s for _, s in view.tasks] == [RunCode.ONGOING, RunCode.NOT_STARTED, RunCode.NOT_STARTED]
    clock.advance(0.6)
    assert [s for _, s in engine.status(run_id).tasks] == [RunCode.SUCCESSFUL, RunCode.ONGOING, RunCode.NOT_STARTED]
    clock.advance(1.0)
    assert engine.status(run_id).state is RunCode.SUCCESSFUL


def test_speed_divides_durations(clock: Clock) -> None:
    engine = Engine(load_catalogue(CATALOGUE), speed=10.0, clock=clock)
    run_id = trigger(engine, "QUICK")
    clock.advance(0.16)  # 1.5 s of work at speed 10
    assert engine.status(run_id).state is RunCode.SUCCESSFUL


def test_failure_stops_later_tasks(engine: Engine, clock: Clock) -> None:
    run_id = trigger(engine, "FAILING")
    clock.advance(10)
    view = engine.status(run_id)
    assert view.state is RunCode.FAILED
    assert dict(view.tasks) == {"F1": RunCode.SUCCESSFUL, "F2": RunCode.FAILED, "F3": RunCode.NOT_STARTED}


def test_fail_once_succeeds_after_restart(engine: Engine, clock: Clock) -> None:
    run_id = trigger(engine, "FLAKY")
    clock.advance(10)
    assert engine.status(run_id).state is RunCode.FAILED
    assert engine.restart("FLAKY", run_id).run_id == run_id
    view = engine.status(run_id)
    assert view.task_state("K1") is RunCode.SUCCESSFUL  # not executed again
    assert view.task_state("K2") is RunCode.ONGOING
    clock.advance(10)
    view = engine.status(run_id)
    assert view.state is RunCode.SUCCESSFUL
    assert view.attempt == 2


def test_abort(engine: Engine, clock: Clock) -> None:
    run_id = trigger(engine, "ABORTING")
    clock.advance(10)
    view = engine.status(run_id)
    assert view.state is RunCode.ABORTED
    assert dict(view.tasks) == {"X1": RunCode.ABORTED, "X2": RunCode.NOT_STARTED}


def test_held_task_is_skipped_and_run_stays_held(engine: Engine, clock: Clock) -> None:
    run_id = trigger(engine, "QUICK", heldTasks="B", excludedTasks="C")
    clock.advance(10)
    view = engine.status(run_id)
    assert view.state is RunCode.HELD  # ESI-NOTES 10: never finished
    assert dict(view.tasks) == {"A": RunCode.SUCCESSFUL, "B": RunCode.HELD, "C": RunCode.EXCLUDED}
    engine.release_held(run_id)
    clock.advance(10)
    assert engine.status(run_id).state is RunCode.SUCCESSFUL


def test_interrupt_then_restart(engine: Engine, clock: Clock) -> None:
    run_id = trigger(engine, "LONG")
    clock.advance(5)
    view = engine.interrupt("LONG", run_id)
    assert view.state is RunCode.INTERRUPTED
    assert dict(view.tasks) == {"L1": RunCode.INTERRUPTED, "L2": RunCode.NOT_STARTED}
    with pytest.raises(EsiError) as again:
        engine.interrupt("LONG", run_id)
    assert again.value.code is ApiCode.ALREADY_INTERRUPTED
    clock.advance(1000)
    assert engine.status(run_id).state is RunCode.INTERRUPTED  # frozen
    engine.restart("LONG", run_id)
    clock.advance(601)
    assert engine.status(run_id).state is RunCode.SUCCESSFUL
    with pytest.raises(EsiError) as finished:
        engine.interrupt("LONG", run_id)
    assert finished.value.code is ApiCode.NOT_ONGOING


def test_rerun_new_id_same_mis_date(engine: Engine, clock: Clock) -> None:
    run_id = trigger(engine, "FAILING", dynamicParamList='{"batchParams": {"$FICMISDATE$": "2024-12-31"}}')
    with pytest.raises(EsiError):
        engine.rerun("FAILING", run_id)  # ongoing: -8
    clock.advance(10)
    new = engine.rerun("FAILING", run_id)
    assert new.run_id != run_id
    assert new.run_id.startswith("FAILING_2024-12-31_")
    assert new.state is RunCode.ONGOING


def test_group_children_run_in_order(engine: Engine, clock: Clock) -> None:
    run_id = trigger(engine, "G_FAIL", "group")
    view = engine.status(run_id)
    assert [engine.get(c).name for c, _ in view.children] == ["QUICK"]
    clock.advance(100)
    view = engine.status(run_id)
    assert view.state is RunCode.FAILED
    assert [(engine.get(c).name, s) for c, s in view.children] == [
        ("QUICK", RunCode.SUCCESSFUL),
        ("FAILING", RunCode.FAILED),
    ]
    # the child started when the previous one ended, not when someone looked
    quick, failing = (engine.get(c) for c, _ in view.children)
    assert quick.finished_at is not None
    assert int(failing.run_id.split("_")[-2]) == int(quick.finished_at * 1000)


def test_group_restart_resumes_failed_child(engine: Engine, clock: Clock) -> None:
    run_id = trigger(engine, "G_OK", "group")
    clock.advance(100)
    assert engine.status(run_id).state is RunCode.FAILED  # FLAKY failed once
    engine.restart("G_OK", run_id)
    clock.advance(100)
    view = engine.status(run_id)
    assert view.state is RunCode.SUCCESSFUL
    assert len(view.children) == 2
