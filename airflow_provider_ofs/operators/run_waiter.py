"""The operators' wait for their run: drive ``RunWatch`` on the worker or defer to the trigger and resume,
restart a failed run, and interrupt the run at the deadline or when the task is killed."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from airflow_provider_ofs.asset_events import without_batch_assets
from airflow_provider_ofs.exceptions import OFSRunAbandonedError, OFSRunTimeoutError, OFSSchedulerError
from airflow_provider_ofs.kept_run import Round
from airflow_provider_ofs.metrics import run_ended
from airflow_provider_ofs.operators.act_once import RunKeeper, accepted, call_marked
from airflow_provider_ofs.published import RunOutcome, push_outcome, push_run
from airflow_provider_ofs.recovery import FAIL, MARK_DONE, RESTART
from airflow_provider_ofs.run_watch import End, Look, RunWatch, interrupt_result, kill_plan, log_notes
from airflow_provider_ofs.watching import WatchEvent, raise_watch_failure, try_deadline, wait_deadline

if TYPE_CHECKING:
    from airflow_provider_ofs._compat import Context
    from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
    from airflow_provider_ofs.recovery import OFSRecovery
    from airflow_provider_ofs.states import RunStatus


class WaitingTask(Protocol):
    """What ``RunWaiter`` uses of the operator it serves: how to wait, its hook, log and ``defer``.

    The waiter sets ``watched_run_id`` (and, through ``push_outcome``, ``run_outcome``).
    """

    batch_name: str
    ofs_conn_id: str
    wait_for_completion: bool
    deferrable: bool
    poll_interval: float
    timeout: float | None
    execution_timeout: timedelta | None
    max_restarts: int
    interrupt_on_kill: bool
    watched_run_id: str | None
    run_outcome: RunOutcome | None
    recovery: OFSRecovery | None
    recovery_answers: list[dict[str, Any]]
    outlets: Any

    @property
    def hook(self) -> OFSSchedulerHook: ...

    @property
    def log(self) -> Any: ...

    def defer(
        self, *, trigger: Any, method_name: str, kwargs: dict[str, Any] | None = ..., timeout: Any = ...
    ) -> NoReturn: ...


class RunWaiter:
    """One operator's wait for its run: ``RunWatch`` decides, the waiter fetches, sleeps, defers and acts.

    :param task: the operator; its parameters say how to wait, and the waiter records the run it watches in
        ``watched_run_id``.
    :param keeper: where a run that replaces the watched one (a restart) is kept for a retry of the task;
        ``None`` keeps it nowhere.
    :param asks_done: how many questions about a failed run this try was answered (``recovery``).
    """

    def __init__(self, task: WaitingTask, keeper: RunKeeper | None = None, asks_done: int = 0) -> None:
        self.task = task
        self.keeper = keeper
        self.asks_done = asks_done

    def watch(self, run_id: str, context: Context) -> str:
        """Publish the run id, then wait for the run (or defer to the trigger); return the id that ended well."""
        task = self.task
        if run_id != task.watched_run_id:  # an action operator published it as soon as OFS accepted the call
            self.publish(run_id, context)
        if not task.wait_for_completion:
            return run_id
        now = time.time()
        # On the worker Airflow enforces execution_timeout itself (and on_kill interrupts the run); a deferred wait
        # takes it from the try's start, since the trigger enforces the deadline.
        if task.deferrable:
            deadline = try_deadline(context, now, task.timeout, task.execution_timeout)
        else:
            deadline = wait_deadline(now, task.timeout)
        return self._wait(self._run_watch(run_id, deadline, now), context, task.deferrable)

    def resume(self, context: Context, event: dict[str, Any] | None, restarts_done: int) -> str:
        """After the trigger's event (``execute_complete``): succeed, restart and wait again, or fail naming it."""
        task = self.task
        watched = WatchEvent.from_payload(event)
        task.watched_run_id = watched.run_id
        if task.recovery is not None and self.asks_done:  # the answers so far, for the final event and facet
            from airflow_provider_ofs.operators.recovery_ask import answers_of

            task.recovery_answers = answers_of(context)
        watch = self._run_watch(watched.run_id, watched.deadline, time.time() - watched.waited_seconds, restarts_done)
        try:
            if self._follow(watch.resume(watched), watch, context):
                return watched.run_id
        except OFSSchedulerError as error:
            raise_watch_failure(
                error, task.watched_run_id or watched.run_id, task.batch_name, self._reconnects(context)
            )
        return self._wait(watch, context, deferring=True)  # after a restart: a resumed task defers again

    def _wait(self, watch: RunWatch, context: Context, deferring: bool) -> str:
        """Look at the run on the worker until it ends or, when ``deferring``, defer while it goes on.

        A deferring task looks first too, so a run that is already over (or a restart's run that is) never
        reaches the triggerer; see ``first_trigger_look`` for when the trigger looks next.
        """
        task = self.task
        try:
            while True:
                look = watch.look(task.hook.get_status(watch.run_id), time.time())
                if look.end is None:
                    log_notes(task.log, look.notes)
                    if deferring:
                        self._defer(watch, look.pause)
                    time.sleep(look.pause)
                elif self._follow(look, watch, context):
                    return watch.run_id
        except OFSSchedulerError as error:
            raise_watch_failure(error, task.watched_run_id or watch.run_id, task.batch_name, self._reconnects(context))

    def publish(self, run_id: str, context: Context) -> None:
        """Make the run known before waiting: XCom ``batch_run_id``, and ``batch_run_url`` for the extra link."""
        self.task.watched_run_id = run_id
        push_run(self.task, context, run_id, self.task.hook.monitor_url(run_id, self.task.batch_name))

    def on_kill(self) -> None:
        """The task was killed while waiting: interrupt the run when ``interrupt_on_kill`` is set (best effort)."""
        run_id = self.task.watched_run_id
        interrupt, note = kill_plan(run_id, self.task.batch_name, self.task.interrupt_on_kill)
        log_notes(self.task.log, (note,))
        if interrupt and run_id is not None:
            self._interrupt(run_id)

    def _run_watch(self, run_id: str, deadline: float | None, waiting_since: float, restarts_done: int = 0) -> RunWatch:
        """The watch of ``run_id`` with the operator's poll interval, restarts and interrupt at the deadline."""
        return RunWatch(
            run_id,
            poll_interval=self.task.poll_interval,
            waiting_since=waiting_since,
            batch_name=self.task.batch_name,
            deadline=deadline,
            max_restarts=self.task.max_restarts,
            restarts_done=restarts_done,
            interrupt_on_kill=self.task.interrupt_on_kill,
        )

    def _follow(self, look: Look, watch: RunWatch, context: Context) -> bool:
        """Act on a look that ended the watch, on the worker or after the trigger; ``True`` when the run ended well.

        ``False`` after a restart: the watch goes on with the new run, kept by ``keeper``. A failure, the deadline
        or a lost watch raise.
        """
        task = self.task
        log_notes(task.log, look.notes)
        if look.end is End.RESTART:
            run_id = self._change(RESTART, watch.run_id, context)
            log_notes(task.log, watch.restarted(run_id))
            return False
        if look.outcome is not None:
            self._ended(context, look.outcome, look.waited)
        if look.end is End.DEADLINE:
            stopped = look.interrupted or (look.interrupt and self._interrupt(watch.run_id))
            raise OFSRunTimeoutError(watch.run_id, look.state, look.waited, run_stopped=stopped)
        if look.end is End.FAILURE and task.recovery is not None and self.asks_done < task.recovery.max_asks:
            from airflow_provider_ofs.operators.recovery_ask import ask

            ask(task, context, watch.run_id, look.message, self.asks_done, watch.restarts_done)
        if look.error is not None:
            raise look.error
        task.log.info("OFS run %s of %s succeeded", watch.run_id, task.batch_name)
        return True

    def ask_about(self, run_id: str, status: RunStatus, context: Context) -> NoReturn:
        """A retry found the previous try's run failed: ask a person about it (``recovery``), with no restart left."""
        task = self.task
        self.publish(run_id, context)
        watch = self._run_watch(run_id, None, time.time(), restarts_done=task.max_restarts)
        self._follow(watch.look(status, time.time()), watch, context)
        raise AssertionError(f"the watch of failed run {run_id} neither asked nor failed")  # _follow raises

    def answered(self, context: Context, event: dict[str, Any], run_id: str, restarts_done: int) -> str:
        """Carry out a person's answer about failed run ``run_id`` (``execute_recovery``); return the id that ended
        well.

        Fail fails the task without retry; Mark done succeeds with no asset event; Restart and Rerun call OFS once
        (the intent marker, then the new run, in the task-state store) and watch the new run, which may ask again.
        """
        from airflow_provider_ofs.operators.recovery_ask import record

        task = self.task
        task.watched_run_id = run_id
        answer = record(task, context, run_id, event)
        if answer.choice == FAIL:
            raise OFSRunAbandonedError(task.batch_name, answer)
        if answer.choice == MARK_DONE:
            task.outlets = without_batch_assets(task.outlets)
            task.log.warning(
                "OFS run %s of %s accepted as done by %s: no asset event", run_id, task.batch_name, answer.who
            )
            return run_id
        new_run = self._change(answer.choice, run_id, context)
        now = time.time()
        watch = self._run_watch(new_run, wait_deadline(now, task.timeout), now, restarts_done)
        return self._wait(watch, context, task.deferrable)

    def _change(self, choice: str, failed_run: str, context: Context) -> str:
        """Restart or rerun ``failed_run`` once (``call_marked``), publish the new run and keep it; its id."""
        task = self.task
        verb, call = ("restart", task.hook.restart) if choice == RESTART else ("rerun", task.hook.rerun)
        round_ = Round.of(context.get("ti"), context.get("dag_run"))
        run_id = call_marked(self.keeper, context, round_, lambda: call(task.batch_name, failed_run))
        with accepted(run_id, verb, f"run {failed_run} of {task.batch_name}"):
            self.publish(run_id, context)
            if self.keeper is not None:
                self.keeper.keep(context, run_id, task.batch_name, task.ofs_conn_id)
        return run_id

    def _defer(self, watch: RunWatch, pause: float) -> NoReturn:
        # Imported here: the trigger module loads Airflow's trigger base (about 10 ms) that parsing a DAG does not need.
        from airflow_provider_ofs.triggers.batch import OFSBatchRunTrigger

        # timeout=None: the trigger enforces the deadline itself and yields a timeout event, so that
        # execute_complete runs and can interrupt the run (a framework timeout would orphan it).
        resume_with = {"restarts_done": watch.restarts_done}
        if self.asks_done:  # questions answered in this try (``recovery``): a failure later may ask the rest
            resume_with["asks_done"] = self.asks_done
        self.task.defer(
            trigger=OFSBatchRunTrigger.going_on_with(watch, self.task.ofs_conn_id, time.time(), pause),
            method_name="execute_complete",
            kwargs=resume_with,
            timeout=None,
        )

    def _reconnects(self, context: Context) -> bool:
        """Whether an Airflow retry of the task would find the run again (see ``RunKeeper.reconnects``)."""
        return self.keeper is not None and self.keeper.reconnects(context)

    def _ended(self, context: Context, outcome: RunOutcome, waited: float) -> None:
        """The wait ended: push the run's outcome to XCom, and count it (``ofs.run.<batch>.*``)."""
        push_outcome(self.task, context, outcome)
        if outcome.state is not None:
            run_ended(self.task.batch_name, outcome.state, waited)

    def _interrupt(self, run_id: str) -> bool:
        """Interrupt the run, best effort; whether it is stopped now (interrupted, or already ended)."""
        error = None
        try:
            self.task.hook.interrupt(self.task.batch_name, run_id)
        except Exception as caught:  # best effort: say what could not be done, never mask the task's own error
            error = caught
        stopped, notes = interrupt_result(run_id, self.task.batch_name, error)
        log_notes(self.task.log, notes)
        return stopped
