"""``OFSBatchRunTrigger``: watch an OFS batch or group run from the triggerer, asynchronously, until it ends."""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from airflow_provider_ofs._compat import BaseTrigger, TriggerEvent, deferral_settle_seconds
from airflow_provider_ofs.arguments import poll_seconds
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.run_watch import RunWatch, interrupt_result, kill_plan, log_notes
from airflow_provider_ofs.watching import WatchEvent, first_trigger_look

#: Longest time ``on_kill`` (or the deadline) spends interrupting the run (the triggerer bounds it too).
ON_KILL_TIMEOUT = 30.0

# OFS triggers watching on each event loop: the loop's shared session is closed when the last one ends,
# so a loop that stops (``airflow dags test``, a test) leaves no open session behind, while a triggerer
# running many triggers keeps one keep-alive session for all of them.
_WATCHERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int] = weakref.WeakKeyDictionary()


ASYNC_CLIENT_MODULE = "airflow_provider_ofs.hooks.async_client"


@asynccontextmanager
async def _using_loop_session() -> AsyncIterator[None]:
    """Count this trigger among the loop's session users; the last one out closes the session.

    The first trigger of a process loads the async client (and aiohttp) in a worker thread, so that the
    triggerer's event loop is never blocked by the import.
    """
    if ASYNC_CLIENT_MODULE not in sys.modules:
        await asyncio.to_thread(importlib.import_module, ASYNC_CLIENT_MODULE)
    loop = asyncio.get_running_loop()
    _WATCHERS[loop] = _WATCHERS.get(loop, 0) + 1
    try:
        yield
    finally:
        _WATCHERS[loop] -= 1
        if not _WATCHERS[loop]:
            from airflow_provider_ofs.hooks.async_client import close_shared_sessions  # aiohttp: load lazily

            await close_shared_sessions()


class OFSBatchRunTrigger(BaseTrigger):
    """Poll an existing OFS run until it ends or a deadline passes, then yield one ``WatchEvent``.

    It never triggers, restarts or reruns anything: after a triggerer restart it is rebuilt from
    ``serialize()`` and goes on watching the same run id. Status calls go through
    ``OFSSchedulerHook.aget_status`` (the loop's shared keep-alive session, the process's token cache,
    the provider's retry rules). When the hook gives up (retry budget spent, authentication refused,
    an undocumented code) the trigger yields an ``error`` event: the run may still be going, and a
    durable retry of the task reconnects to it. What to log, when the wait ends and how are decided by
    ``RunWatch`` (``run_watch``); the trigger fetches, sleeps and interrupts.

    The event payload is ``WatchEvent.payload()``: ``status`` (``success``, ``failed``, ``timeout`` or
    ``error``), ``run_id``, ``batch_name``, ``state``, ``failed_tasks``, ``held_tasks``, ``message``,
    ``deadline`` and ``waited_seconds``.

    :param batch_run_id: the run to watch.
    :param ofs_conn_id: the ``ofs_scheduler`` connection.
    :param poll_interval: seconds between status calls.
    :param tasks: only these task codes decide the outcome (see ``run_watch.RunWatch``); batch runs only: for
        the run of a batch group the trigger yields an ``error`` event that says so.
    :param batch_name: the run's batch or group name; needed to interrupt it in ``on_kill``.
    :param deadline: absolute epoch seconds after which a ``timeout`` event ends the wait (``None``: no limit).
    :param waiting_since: epoch seconds when the wait began, for the ``waited_seconds`` of the event.
    :param interrupt_on_kill: interrupt the run when a user kills the deferred task, and when ``deadline``
        passes (needs ``batch_name``).
    :param first_look_at: epoch seconds before which the trigger makes no status call and yields no event
        (``None``: at once). ``going_on_with`` sets it, as the operators and the sensor defer.
    """

    def __init__(
        self,
        batch_run_id: str,
        ofs_conn_id: str = OFSSchedulerHook.default_conn_name,
        poll_interval: float = 30.0,
        tasks: Sequence[str] | None = None,
        batch_name: str | None = None,
        deadline: float | None = None,
        waiting_since: float | None = None,
        interrupt_on_kill: bool = False,
        first_look_at: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.batch_run_id = batch_run_id
        self.ofs_conn_id = ofs_conn_id
        self.poll_interval = poll_seconds(poll_interval)
        self.tasks = list(tasks) if tasks else None
        self.batch_name = batch_name
        self.deadline = deadline
        self.waiting_since = time.time() if waiting_since is None else waiting_since
        self.interrupt_on_kill = interrupt_on_kill
        self.first_look_at = first_look_at

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and arguments, enough to rebuild the trigger in another triggerer process."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "batch_run_id": self.batch_run_id,
                "ofs_conn_id": self.ofs_conn_id,
                "poll_interval": self.poll_interval,
                "tasks": self.tasks,
                "batch_name": self.batch_name,
                "deadline": self.deadline,
                "waiting_since": self.waiting_since,
                "interrupt_on_kill": self.interrupt_on_kill,
                "first_look_at": self.first_look_at,
            },
        )

    @classmethod
    def going_on_with(cls, watch: RunWatch, ofs_conn_id: str, looked_at: float, pause: float) -> OFSBatchRunTrigger:
        """The trigger that goes on with a task's watch in the triggerer (the task resumes with its event).

        The task last looked at the run at ``looked_at`` and would look again after ``pause``; the trigger's
        first look comes then, and no sooner than ``[ofs] deferral_settle_seconds`` (``first_trigger_look``).
        """
        return cls(
            batch_run_id=watch.run_id,
            ofs_conn_id=ofs_conn_id,
            poll_interval=watch.poll_interval,
            tasks=watch.tasks,
            batch_name=watch.batch_name,
            deadline=watch.deadline,
            waiting_since=watch.waiting_since,
            interrupt_on_kill=bool(watch.interrupt_on_kill),
            first_look_at=first_trigger_look(looked_at, pause, deferral_settle_seconds()),
        )

    def _hook(self) -> OFSSchedulerHook:
        return OFSSchedulerHook(ofs_conn_id=self.ofs_conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the run ends, the deadline passes or the hook gives up; yield exactly one event."""
        async with _using_loop_session():
            event = await self._watch()
        yield TriggerEvent(event.payload())  # type: ignore[no-untyped-call]

    async def _watch(self) -> WatchEvent:
        hook = self._hook()
        # interrupt_on_kill off: the task that resumes says what it does with the run at the deadline.
        watch = RunWatch(
            self.batch_run_id,
            poll_interval=self.poll_interval,
            waiting_since=self.waiting_since,
            batch_name=self.batch_name,
            tasks=self.tasks,
            deadline=self.deadline,
            interrupt_on_kill=self.interrupt_on_kill or None,
        )
        if self.first_look_at is not None:
            await asyncio.sleep(max(0.0, self.first_look_at - time.time()))
        try:
            while True:
                look = watch.look(await hook.aget_status(self.batch_run_id, self.tasks), time.time())
                if look.notes:
                    log_notes(self.log, look.notes)
                if look.end is not None:
                    # At the deadline, not only by the task on resume: when execution_timeout is the deadline,
                    # Airflow 2.11 fails the resumed task before its completion method runs, orphaning the run.
                    return watch.event(look, interrupted=look.interrupt and await self._interrupt(hook))
                await asyncio.sleep(look.pause)
        except Exception as error:  # the completion method must run, so every failure becomes an event
            self.log.warning("Stopped watching OFS run %s: %s", self.batch_run_id, error)
            return watch.lost(error, time.time())

    async def _interrupt(self, hook: OFSSchedulerHook) -> bool:
        """Interrupt the run, best effort and bounded in time; whether it is stopped now (or had ended)."""
        batch_name, error = self.batch_name or "", None
        try:
            await asyncio.wait_for(hook.ainterrupt(batch_name, self.batch_run_id), ON_KILL_TIMEOUT)
        except Exception as caught:
            error = caught
        stopped, notes = interrupt_result(self.batch_run_id, batch_name, error)
        log_notes(self.log, notes)
        return stopped

    async def on_kill(self) -> None:
        """A user killed the deferred task (Airflow 3.3+): interrupt the run when ``interrupt_on_kill`` is set.

        Never called on a triggerer restart, so a redistributed trigger leaves the run alone.
        """
        interrupt, note = kill_plan(self.batch_run_id, self.batch_name, self.interrupt_on_kill)
        log_notes(self.log, (note,))
        if interrupt:
            async with _using_loop_session():
                await self._interrupt(self._hook())
