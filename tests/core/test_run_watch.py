"""``RunWatch`` driven by a sequence of statuses and a fake clock: no server, no Airflow run, no sleeping."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_ofs.exceptions import (
    FailureKind,
    OFSConnectionConfigError,
    OFSNotOngoingError,
    OFSRunFailedError,
    OFSTasksOfGroupError,
    OFSTransportError,
)
from airflow_provider_ofs.run_watch import End, Look, RunWatch, interrupt_result, kill_plan
from airflow_provider_ofs.states import RunState, RunStatus, TaskStatus
from airflow_provider_ofs.watching import EventStatus, WatchEvent

START = 1000.0


def batch(state: RunState, run_id: str = "R1", **tasks: RunState) -> RunStatus:
    return RunStatus(run_id, state, [TaskStatus(code, task_state) for code, task_state in tasks.items()])


def watch_of(**kwargs) -> RunWatch:
    kwargs.setdefault("poll_interval", 10.0)
    return RunWatch(kwargs.pop("run_id", "R1"), waiting_since=START, **kwargs)


def drive(watch: RunWatch, statuses: list[RunStatus]) -> list[Look]:
    """Feed the statuses on a fake clock moved by each look's pause (as a driver sleeps) until one ends the watch."""
    looks, now = [], START
    for status in statuses:
        look = watch.look(status, now)
        looks.append(look)
        if look.end is not None:
            break
        now += look.pause
    return looks


def texts(look: Look) -> list[str]:
    return [text for _, text in look.notes]


def test_a_run_that_succeeds_is_logged_change_by_change_and_ends_with_its_outcome():
    looks = drive(
        watch_of(),
        [
            batch(RunState.NOT_STARTED, A=RunState.NOT_STARTED),
            batch(RunState.ONGOING, A=RunState.ONGOING),
            batch(RunState.ONGOING, A=RunState.ONGOING),
            batch(RunState.SUCCESSFUL, A=RunState.SUCCESSFUL),
        ],
    )

    assert [look.end for look in looks] == [None, None, None, End.SUCCESS]
    assert [look.pause for look in looks[:3]] == [10.0, 10.0, 10.0]
    assert texts(looks[1]) == ["OFS run R1: ONGOING (code 2: Ongoing); A ONGOING; next status call in 10 s"]
    assert texts(looks[2]) == [], "an unchanged answer logs nothing"
    assert texts(looks[3]) == ["OFS run R1: SUCCESSFUL (code 0: Success); A SUCCESSFUL"]
    ended = looks[3]
    assert (ended.state, ended.outcome.state, ended.waited) == (RunState.SUCCESSFUL, "SUCCESSFUL", 30.0)
    assert ended.message == "OFS run R1 succeeded"
    assert ended.error is None


def test_an_unchanged_answer_is_not_assessed_again(monkeypatch):
    from airflow_provider_ofs import run_watch

    assessed = []
    real_assess = run_watch.assess
    monkeypatch.setattr(
        run_watch, "assess", lambda status, tasks: assessed.append(status) or real_assess(status, tasks)
    )
    watch = watch_of()
    going = batch(RunState.ONGOING, A=RunState.ONGOING)

    drive(watch, [going, going, batch(RunState.ONGOING, A=RunState.ONGOING), going])

    assert assessed == [going], "the same object, and an equal one, change no verdict"


def test_a_failed_run_without_restarts_left_fails_naming_the_run_state_and_tasks():
    (*_, ended) = drive(
        watch_of(), [batch(RunState.ONGOING, A=RunState.ONGOING), batch(RunState.FAILED, A=RunState.FAILED)]
    )

    assert ended.end is End.FAILURE
    assert isinstance(ended.error, OFSRunFailedError)
    assert str(ended.error) == "OFS run R1 ended FAILED (code -1: Failure); failed: A"
    assert (ended.outcome.state, ended.outcome.failed_tasks) == ("FAILED", ("A",))


def test_a_failed_run_is_restarted_until_max_restarts_then_fails():
    watch = watch_of(max_restarts=2)

    first = watch.look(batch(RunState.FAILED, A=RunState.FAILED), START)
    assert first.end is End.RESTART
    assert first.outcome is None, "nothing is published about a run that is restarted"
    assert first.notes[-1] == (
        logging.WARNING,
        "OFS run R1 ended FAILED (code -1: Failure); failed: A; restarting it (restart 1 of 2)",
    )
    assert watch.restarted("R2") == ((logging.INFO, "Restart 1 of 2: watching OFS run R2"),)

    second = watch.look(batch(RunState.ABORTED, "R2", A=RunState.ABORTED), START + 10)
    assert second.end is End.RESTART
    assert "OFS run R2 ended ABORTED" in texts(second)[-1]
    assert texts(second)[-1].endswith("restarting it (restart 2 of 2)")
    watch.restarted("R3")

    third = watch.look(batch(RunState.FAILED, "R3", A=RunState.FAILED), START + 20)
    assert third.end is End.FAILURE
    assert "OFS run R3 ended FAILED" in str(third.error)


def test_a_restart_that_answers_the_same_run_id_is_watched_again_from_its_next_status():
    watch = watch_of(max_restarts=1)
    failed = batch(RunState.FAILED, A=RunState.FAILED)
    watch.look(failed, START)
    watch.restarted("R1")

    assert watch.look(batch(RunState.ONGOING, A=RunState.ONGOING), START + 1).end is None
    assert watch.look(failed, START + 2).end is End.FAILURE


def test_held_work_is_said_once_and_keeps_the_watch_going_until_its_deadline():
    watch = watch_of(deadline=START + 25, batch_name="B", interrupt_on_kill=True)
    held = batch(RunState.HELD, A=RunState.SUCCESSFUL, B=RunState.HELD)

    looks = drive(watch, [held, held, held, held, held])

    assert [look.end for look in looks] == [None, None, None, End.DEADLINE]
    assert sum("held (code 5) B" in text for look in looks for text in texts(look)) == 1
    assert [look.pause for look in looks[:3]] == [10.0, 10.0, 5.0], "the last pause ends at the deadline"
    at_deadline = looks[3]
    assert (at_deadline.state, at_deadline.held_tasks, at_deadline.waited) == (RunState.HELD, ("B",), 25.0)
    assert at_deadline.interrupt is True
    assert texts(at_deadline) == ["OFS run R1 did not finish by its deadline; interrupting it"]


@pytest.mark.parametrize(
    ("interrupt_on_kill", "batch_name", "interrupt", "said"),
    [
        (True, "B", True, ["OFS run R1 did not finish by its deadline; interrupting it"]),
        (False, "B", False, ["OFS run R1 did not finish by its deadline; left running (interrupt_on_kill is off)"]),
        (None, "B", False, []),  # a sensor's watch, or a trigger's that leaves the word to the task
        (True, None, False, []),  # nothing to interrupt it with
    ],
)
def test_at_the_deadline_the_run_is_interrupted_only_when_asked(interrupt_on_kill, batch_name, interrupt, said):
    watch = watch_of(deadline=START, batch_name=batch_name, interrupt_on_kill=interrupt_on_kill)

    look = watch.look(batch(RunState.ONGOING), START)

    assert (look.end, look.interrupt, texts(look)[1:]) == (End.DEADLINE, interrupt, said)


def test_a_run_that_ends_at_its_deadline_ends_as_it_did_not_as_a_timeout():
    watch = watch_of(deadline=START)

    assert watch.look(batch(RunState.SUCCESSFUL), START + 5).end is End.SUCCESS


def test_a_task_filter_given_as_text_decides_alone():
    watch = watch_of(tasks=" A, B ,")

    assert watch.tasks == ["A", "B"]
    assert watch.look(batch(RunState.ONGOING, A=RunState.SUCCESSFUL, B=RunState.HELD), START).end is None
    done = watch.look(batch(RunState.FAILED, A=RunState.SUCCESSFUL, B=RunState.EXCLUDED, C=RunState.FAILED), START + 1)
    assert done.end is End.SUCCESS


def test_a_task_filter_fails_when_the_run_ended_without_a_watched_task():
    look = watch_of(tasks=["A", "NOPE"]).look(batch(RunState.SUCCESSFUL, A=RunState.SUCCESSFUL), START)

    assert look.end is End.FAILURE
    assert look.outcome.failed_tasks == ("NOPE",)
    assert str(look.error).endswith("(tasks NOPE are not in the run)")


def test_a_task_filter_for_the_run_of_a_group_is_refused():
    group = RunStatus("G1", RunState.ONGOING, children=[RunStatus("C1", RunState.ONGOING)])

    with pytest.raises(OFSTasksOfGroupError, match="G1 is the run of a batch group"):
        watch_of(run_id="G1", tasks=["A"]).look(group, START)


def test_the_triggers_ending_reads_back_as_the_same_answer_for_the_task():
    trigger_watch = watch_of(deadline=START + 10, batch_name="B")
    task_watch = watch_of(deadline=START + 10, batch_name="B", max_restarts=1, interrupt_on_kill=True)

    look = drive(trigger_watch, [batch(RunState.FAILED, A=RunState.FAILED)])[-1]
    event = WatchEvent.from_payload(trigger_watch.event(look).payload())
    resumed = task_watch.resume(event)

    assert (event.status, event.failed_tasks, event.message) == (EventStatus.FAILED, ["A"], str(look.error))
    assert resumed.end is End.RESTART, "the task restarts as its worker would"
    task_watch.restarted("R2")
    again = task_watch.resume(WatchEvent.from_payload(trigger_watch.event(look).payload()))
    assert again.end is End.FAILURE
    assert str(again.error) == str(look.error)
    assert again.outcome == look.outcome


def test_a_timeout_event_asks_the_task_to_interrupt_only_a_run_the_trigger_did_not():
    trigger_watch = watch_of(deadline=START, batch_name="B")
    task_watch = watch_of(deadline=START, batch_name="B", interrupt_on_kill=True)
    look = trigger_watch.look(batch(RunState.HELD, A=RunState.HELD), START)

    left = trigger_watch.event(look)
    stopped = trigger_watch.event(look, interrupted=True)

    assert left.message == "OFS run R1 did not finish by its deadline; last state HELD (code 5: Held); held: A"
    assert stopped.message.endswith("; held: A; the run was interrupted")
    assert (left.status, left.held_tasks, stopped.interrupted) == (EventStatus.TIMEOUT, ["A"], True)
    resumed_left, resumed_stopped = task_watch.resume(left), task_watch.resume(stopped)
    assert (resumed_left.end, resumed_left.interrupt, resumed_left.interrupted) == (End.DEADLINE, True, False)
    assert (resumed_stopped.interrupt, resumed_stopped.interrupted, resumed_stopped.notes) == (False, True, ())


def test_a_watch_that_stopped_on_an_error_keeps_the_last_state_and_says_whether_a_retry_can_help():
    watch = watch_of()
    watch.look(batch(RunState.HELD, A=RunState.HELD), START)

    lost = watch.lost(OFSTransportError("no answer", kind=FailureKind.TIMEOUT), START + 3)
    refused = watch.lost(OFSConnectionConfigError("the connection has no host"), START + 3)

    assert (lost.status, lost.state, lost.held_tasks, lost.refused) == (EventStatus.ERROR, RunState.HELD, ["A"], False)
    assert lost.message.startswith("Lost track of OFS run R1 (OFSTransportError: no answer)")
    assert (refused.refused, refused.message) == (True, "the connection has no host")
    assert watch.resume(refused).end is End.LOST
    assert str(watch.resume(refused).error) == "the connection has no host"


def test_an_interrupt_is_best_effort_and_an_ended_run_counts_as_stopped():
    assert interrupt_result("R1", "B", None) == (True, ())
    assert interrupt_result("R1", "B", OFSNotOngoingError("not ongoing", code=-8)) == (
        True,
        ((logging.INFO, "OFS run R1 had already ended; nothing to interrupt"),),
    )
    stopped, notes = interrupt_result("R1", "B", TimeoutError("no answer"))
    assert not stopped
    assert notes == (
        (
            logging.WARNING,
            "Could not interrupt OFS run R1 of B (TimeoutError: no answer); interrupt it from the OFS batch monitor",
        ),
    )


def test_a_killed_task_interrupts_its_run_only_when_it_can_and_is_asked():
    assert kill_plan("R1", "B", True) == (True, (logging.WARNING, "Task killed; interrupting OFS run R1"))
    assert kill_plan("R1", "B", False)[0] is False
    assert "left running (interrupt_on_kill is off)" in kill_plan("R1", "B", False)[1][1]
    assert kill_plan(None, "B", True)[0] is False
    assert kill_plan("R1", None, True) == (
        False,
        (logging.WARNING, "Cannot interrupt OFS run R1: the trigger has no batch_name"),
    )
