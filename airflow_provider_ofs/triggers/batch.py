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

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_ofs._compat import BaseTrigger, TriggerEvent
from airflow_provider_ofs.exceptions import OFSNotOngoingError
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.published import children_of
from airflow_provider_ofs.states import RunState, RunStatus
from airflow_provider_ofs.watching import (
    Assessment,
    EventStatus,
    RunProgress,
    Verdict,
    WatchEvent,
    assess,
    poll_seconds,
    run_failed_error,
)

#: Longest time ``on_kill`` (or the deadline) spends interrupting the run (the triggerer bounds it too).
ON_KILL_TIMEOUT = 30.0
INTERRUPT_FAILED = "Could not interrupt OFS run %s of %s (%s: %s); interrupt it from the OFS batch monitor"

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
    durable retry of the task reconnects to it.

    The event payload is ``WatchEvent.payload()``: ``status`` (``success``, ``failed``, ``timeout`` or
    ``error``), ``run_id``, ``batch_name``, ``state``, ``failed_tasks``, ``held_tasks``, ``message``,
    ``deadline`` and ``waited_seconds``.

    :param batch_run_id: the run to watch.
    :param ofs_conn_id: the ``ofs_scheduler`` connection.
    :param poll_interval: seconds between status calls.
    :param tasks: only these task codes decide the outcome (see ``watching.assess``); batch runs only: for
        the run of a batch group the trigger yields an ``error`` event that says so.
    :param batch_name: the run's batch or group name; needed to interrupt it in ``on_kill``.
    :param deadline: absolute epoch seconds after which a ``timeout`` event ends the wait (``None``: no limit).
    :param waiting_since: epoch seconds when the wait began, for the ``waited_seconds`` of the event.
    :param interrupt_on_kill: interrupt the run when a user kills the deferred task, and when ``deadline``
        passes (needs ``batch_name``).
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
            },
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
        progress = RunProgress(self.batch_run_id, self.poll_interval)
        last: RunStatus | None = None
        try:
            while True:
                status = await hook.aget_status(self.batch_run_id, self.tasks)
                # An unchanged answer changes no log line and no verdict (``StatusPoll`` returns the same object).
                if status is not last and status != last:
                    last = status
                    for line in progress.update(status):
                        self.log.info(line)
                    assessment = assess(status, self.tasks)
                    if assessment.verdict is not Verdict.WAIT:
                        return self._final(status, assessment)
                now = time.time()
                if self.deadline is not None and now >= self.deadline:
                    return self._timeout(status.state, status.held_tasks, await self._interrupt_at_deadline(hook))
                pause = self.poll_interval if self.deadline is None else min(self.poll_interval, self.deadline - now)
                await asyncio.sleep(max(0.0, pause))
        except Exception as error:  # the completion method must run, so every failure becomes an event
            self.log.warning("Stopped watching OFS run %s: %s", self.batch_run_id, error)
            state, held = (last.state, last.held_tasks) if last else (None, [])
            if isinstance(error, AirflowFailException):  # no retry can fix it, and nothing was lost
                return self._event(EventStatus.ERROR, str(error), state, held_tasks=held, refused=True)
            message = (
                f"Lost track of OFS run {self.batch_run_id} ({type(error).__name__}: {error}). "
                f"The run may still be going; a retry of the task reconnects to it when durable."
            )
            return self._event(EventStatus.ERROR, message, state, held_tasks=held)

    def _final(self, status: RunStatus, assessment: Assessment) -> WatchEvent:
        """The event for a run that ended (or whose watched tasks did), with its child runs."""
        children = children_of(status)
        if assessment.verdict is Verdict.SUCCESS:
            message = f"OFS run {self.batch_run_id} succeeded"
            return self._event(EventStatus.SUCCESS, message, status.state, children=children)
        message = str(run_failed_error(self.batch_run_id, assessment))
        return self._event(EventStatus.FAILED, message, assessment.state, assessment.failed_tasks, children=children)

    async def _interrupt_at_deadline(self, hook: OFSSchedulerHook) -> bool:
        """Interrupt the run when the wait's deadline passed (``interrupt_on_kill``); whether it is stopped now.

        Done here, not only by the task on resume: when ``execution_timeout`` is the deadline, Airflow 2.11
        fails the resumed task before its completion method runs, and the run would be orphaned.
        """
        if not (self.interrupt_on_kill and self.batch_name):
            return False
        self.log.warning("OFS run %s did not finish by the task's deadline; interrupting it", self.batch_run_id)
        return await self._interrupt(hook, self.batch_name)

    async def _interrupt(self, hook: OFSSchedulerHook, batch_name: str) -> bool:
        """Interrupt the run, best effort and bounded in time; whether it is stopped now (or had ended)."""
        try:
            await asyncio.wait_for(hook.ainterrupt(batch_name, self.batch_run_id), ON_KILL_TIMEOUT)
        except OFSNotOngoingError:
            self.log.info("OFS run %s had already ended; nothing to interrupt", self.batch_run_id)
        except Exception as error:
            self.log.warning(INTERRUPT_FAILED, self.batch_run_id, batch_name, type(error).__name__, error)
            return False
        return True

    def _timeout(self, state: RunState, held: list[str], interrupted: bool) -> WatchEvent:
        waited = time.time() - self.waiting_since
        held_text = f"; held: {', '.join(held)}" if held else ""
        stopped = "; the run was interrupted" if interrupted else ""
        message = (
            f"OFS run {self.batch_run_id} did not finish by its deadline; last state {state.describe()}"
            f"{held_text}{stopped}"
        )
        return self._event(EventStatus.TIMEOUT, message, state, held_tasks=held, waited=waited, interrupted=interrupted)

    def _event(
        self,
        status: EventStatus,
        message: str,
        state: RunState | None,
        failed_tasks: list[str] | None = None,
        held_tasks: list[str] | None = None,
        waited: float | None = None,
        interrupted: bool = False,
        children: list[tuple[str, str]] | None = None,
        refused: bool = False,
    ) -> WatchEvent:
        return WatchEvent(
            status=status,
            run_id=self.batch_run_id,
            message=message,
            state=state,
            failed_tasks=failed_tasks or [],
            held_tasks=held_tasks or [],
            batch_name=self.batch_name,
            deadline=self.deadline,
            waited_seconds=round(time.time() - self.waiting_since if waited is None else waited, 3),
            interrupted=interrupted,
            children=children or [],
            refused=refused,
        )

    async def on_kill(self) -> None:
        """A user killed the deferred task (Airflow 3.3+): interrupt the run when ``interrupt_on_kill`` is set.

        Never called on a triggerer restart, so a redistributed trigger leaves the run alone.
        """
        if not self.interrupt_on_kill:
            self.log.info("Task killed; OFS run %s is left running (interrupt_on_kill is off)", self.batch_run_id)
            return
        if not self.batch_name:
            self.log.warning("Cannot interrupt OFS run %s: the trigger has no batch_name", self.batch_run_id)
            return
        async with _using_loop_session():
            await self._interrupt(self._hook(), self.batch_name)
