"""Operators that trigger, interrupt, restart and rerun OFS batches and batch groups, and wait for the run."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_ofs._compat import (
    HAS_TASK_STATE_STORE,
    BaseOperator,
    Context,
    ResumableJobMixin,
    default_deferrable,
    is_airflow_retry,
)
from airflow_provider_ofs.arguments import (
    DEFAULT_CONN_ID,
    MIS_DATE_OF_RUN,
    encode_dynamic_params,
    is_template,
    join_codes,
    mis_date_text,
    poll_seconds,
    require_name,
    seconds,
    wire_batch_type,
)
from airflow_provider_ofs.assets import check_mis_date_policy, skip_if_succeeded_before, with_runs_alias
from airflow_provider_ofs.exceptions import (
    OFSNotOngoingError,
    OFSObjectNotFoundError,
    OFSOutcomeUnknownError,
    OFSRunTimeoutError,
    OFSSchedulerError,
    OFSTaskStateError,
    fails_plainly,
)
from airflow_provider_ofs.kept_run import (
    CallOut,
    KeptRun,
    Unreadable,
    intent_marker,
    read_kept,
    run_id_of,
)
from airflow_provider_ofs.metrics import run_ended
from airflow_provider_ofs.published import (
    XCOM_RUN_ID_KEY,
    OFSBatchMonitorLink,
    RunOutcome,
    push_outcome,
    push_run,
)
from airflow_provider_ofs.run_watch import End, Look, RunWatch, interrupt_result, kill_plan, log_notes
from airflow_provider_ofs.states import DONE_WITHOUT_FAILURE, STILL_RUNNING
from airflow_provider_ofs.watching import WatchEvent, raise_watch_failure, try_deadline, wait_deadline

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
    from airflow_provider_ofs.states import RunState, RunStatus


class OFSBatchRunWaitingOperator(BaseOperator):
    """Base of the operators that start a run: push its id, then wait for it (or defer), restarting on failure.

    Subclasses implement ``execute`` and call ``watch(run_id, context)`` once the run exists. Not meant
    for DAGs on its own.

    :param batch_name: the batch or batch group the run belongs to (templated).
    :param wait_for_completion: wait until the run ends; when ``False`` the task ends once the run exists.
    :param poll_interval: seconds between status calls while waiting (number or ``timedelta``).
    :param timeout: longest wait for the run, in seconds or a ``timedelta``; ``None`` waits until the run
        ends or the task's ``execution_timeout``. When it passes the task fails with ``OFSRunTimeoutError``
        (and the run is interrupted when ``interrupt_on_kill`` is set).
    :param deferrable: wait in the triggerer (``OFSBatchRunTrigger``) instead of a worker slot; defaults
        to Airflow's ``[operators] default_deferrable``.
    :param max_restarts: how many times a failed, interrupted or aborted run is restarted (Restart API)
        before the task fails.
    :param interrupt_on_kill: interrupt the run when the task is killed or times out.
    :param ofs_conn_id: the ``ofs_scheduler`` connection.
    :param emit_asset_event: when the run the task waited for succeeds, emit an event of the batch's asset
        (``airflow_provider_ofs.assets``), through the alias ``ofs_batch_runs`` added to the task's outlets.
    """

    ui_color = "#f5d6c6"
    operator_extra_links = (OFSBatchMonitorLink(),)

    def __init__(
        self,
        *,
        batch_name: str,
        wait_for_completion: bool = True,
        poll_interval: float | timedelta = 30.0,
        timeout: float | timedelta | None = None,
        deferrable: bool | None = None,
        max_restarts: int = 0,
        interrupt_on_kill: bool = True,
        ofs_conn_id: str = DEFAULT_CONN_ID,
        emit_asset_event: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch_name = batch_name
        self.wait_for_completion = wait_for_completion
        self.emit_asset_event = emit_asset_event
        if emit_asset_event and wait_for_completion:
            self.outlets = with_runs_alias(self.outlets)
        self.poll_interval = poll_seconds(poll_interval)
        self.timeout = seconds("timeout", timeout)
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
            raise ValueError(f"max_restarts must be a whole number of 0 or more, not {max_restarts!r}")
        self.max_restarts = max_restarts
        self.interrupt_on_kill = interrupt_on_kill
        self.ofs_conn_id = ofs_conn_id
        self.watched_run_id: str | None = None
        self.run_outcome: RunOutcome | None = None
        if not is_template(batch_name):
            require_name("batch_name", batch_name)

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:  # type: ignore[override]
        """Airflow's ``partial``, with the ``ofs_batch_runs`` alias in the outlets, as ``__init__`` adds it.

        A mapped task's outlets are what ``partial`` was given: without this, Airflow would not register the
        alias where the DAG is parsed (Airflow 2 then cannot link the event to it).
        """
        if kwargs.get("emit_asset_event", True) and kwargs.get("wait_for_completion", True):
            kwargs["outlets"] = with_runs_alias(kwargs.get("outlets"))
        return super().partial(**kwargs)

    @cached_property
    def hook(self) -> OFSSchedulerHook:
        """The hook for ``ofs_conn_id`` (loaded here: parsing a DAG file needs neither it nor the protocol)."""
        from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

        return OFSSchedulerHook(ofs_conn_id=self.ofs_conn_id)

    # ---------------------------------------------------------------------------------------- waiting

    def watch(self, run_id: str, context: Context) -> str:
        """Publish the run id, then wait for the run (or defer to the trigger); return the id that ended well."""
        if run_id != self.watched_run_id:  # an action operator published it as soon as OFS accepted the call
            self._publish(run_id, context)
        if not self.wait_for_completion:
            return run_id
        now = time.time()
        if self.deferrable:
            self._defer(self._run_watch(run_id, try_deadline(context, now, self.timeout, self.execution_timeout), now))
        # On the worker Airflow enforces execution_timeout itself (and on_kill interrupts the run).
        watch = self._run_watch(run_id, wait_deadline(now, self.timeout), now)
        try:
            while True:
                look = watch.look(self.hook.get_status(watch.run_id), time.time())
                if look.end is None:
                    log_notes(self.log, look.notes)
                    time.sleep(look.pause)
                elif self._follow(look, watch, context):
                    return watch.run_id
        except OFSSchedulerError as error:
            raise_watch_failure(error, self.watched_run_id or run_id, self.batch_name, self._retry_reconnects(context))

    @fails_plainly
    def execute_complete(self, context: Context, event: dict[str, Any] | None = None, restarts_done: int = 0) -> str:
        """Resume after the trigger's event: succeed, restart and defer again, or fail naming the run."""
        watched = WatchEvent.from_payload(event)
        self.watched_run_id = watched.run_id
        watch = self._run_watch(watched.run_id, watched.deadline, time.time() - watched.waited_seconds, restarts_done)
        try:
            if not self._follow(watch.resume(watched), watch, context):
                self._defer(watch)
        except OFSSchedulerError as error:
            raise_watch_failure(
                error, self.watched_run_id or watched.run_id, self.batch_name, self._retry_reconnects(context)
            )
        return watched.run_id

    def _run_watch(self, run_id: str, deadline: float | None, waiting_since: float, restarts_done: int = 0) -> RunWatch:
        """The watch of ``run_id`` with this operator's poll interval, restarts and interrupt at the deadline."""
        return RunWatch(
            run_id,
            poll_interval=self.poll_interval,
            waiting_since=waiting_since,
            batch_name=self.batch_name,
            deadline=deadline,
            max_restarts=self.max_restarts,
            restarts_done=restarts_done,
            interrupt_on_kill=self.interrupt_on_kill,
        )

    def _follow(self, look: Look, watch: RunWatch, context: Context) -> bool:
        """Act on a look that ended the watch, on the worker or after the trigger; ``True`` when the run ended well.

        ``False`` after a restart: the watch goes on with the new run. A failure, the deadline or a lost watch raise.
        """
        log_notes(self.log, look.notes)
        if look.end is End.RESTART:
            failed_run = watch.run_id
            run_id = self.hook.restart(self.batch_name, failed_run)
            with self._accepted(run_id, "restart", f"run {failed_run} of {self.batch_name}"):
                log_notes(self.log, watch.restarted(run_id))
                self._publish(run_id, context)
                self._restarted(run_id, context)
            return False
        if look.outcome is not None:
            self._ended(context, look.outcome, look.waited)
        if look.end is End.DEADLINE:
            stopped = look.interrupted or (look.interrupt and self._interrupt(watch.run_id))
            raise OFSRunTimeoutError(watch.run_id, look.state, look.waited, run_stopped=stopped)
        if look.error is not None:
            raise look.error
        self.log.info("OFS run %s of %s succeeded", watch.run_id, self.batch_name)
        return True

    def _defer(self, watch: RunWatch) -> NoReturn:
        # Imported here: the trigger module loads Airflow's trigger base (about 10 ms) that parsing a DAG does not need.
        from airflow_provider_ofs.triggers.batch import OFSBatchRunTrigger

        # timeout=None: the trigger enforces the deadline itself and yields a timeout event, so that
        # execute_complete runs and can interrupt the run (a framework timeout would orphan it).
        self.defer(
            trigger=OFSBatchRunTrigger.going_on_with(watch, self.ofs_conn_id),
            method_name="execute_complete",
            kwargs={"restarts_done": watch.restarts_done},
            timeout=None,
        )

    def _retry_reconnects(self, context: Context) -> bool:
        """Whether an Airflow retry of this task would find the run again (durable, with a task-state store)."""
        return bool(getattr(self, "durable", False)) and context.get("task_state_store") is not None

    @contextmanager
    def _accepted(self, run_id: str, verb: str, subject: str) -> Iterator[None]:
        """Around what follows a call OFS accepted, until its run is kept: any error is ``OFSOutcomeUnknownError``.

        A retryable error there would have Airflow send the call again (``protocol.accepted_then_failed``).
        """
        try:
            yield
        except OFSOutcomeUnknownError:
            raise
        except Exception as error:
            from airflow_provider_ofs.protocol import accepted_then_failed  # where a task runs, not at parse time

            raise accepted_then_failed(verb, subject, run_id, error) from error

    def _restarted(self, run_id: str, context: Context) -> None:
        """Hook for subclasses that keep the watched run id elsewhere (the durable action operators)."""

    def _publish(self, run_id: str, context: Context) -> None:
        """Make the run known before waiting: XCom ``batch_run_id``, and ``batch_run_url`` for the extra link."""
        self.watched_run_id = run_id
        push_run(self, context, run_id, self.hook.monitor_url(run_id, self.batch_name))

    def _ended(self, context: Context, outcome: RunOutcome, waited: float) -> None:
        """The wait ended: push the run's outcome to XCom, and count it (``ofs.run.<batch>.*``)."""
        push_outcome(self, context, outcome)
        if outcome.state is not None:
            run_ended(self.batch_name, outcome.state, waited)

    # ---------------------------------------------------------------------------------- interrupting

    def _interrupt(self, run_id: str) -> bool:
        """Interrupt the run, best effort; whether it is stopped now (interrupted, or already ended)."""
        error = None
        try:
            self.hook.interrupt(self.batch_name, run_id)
        except Exception as caught:  # best effort: say what could not be done, never mask the task's own error
            error = caught
        stopped, notes = interrupt_result(run_id, self.batch_name, error)
        log_notes(self.log, notes)
        return stopped

    def on_kill(self) -> None:
        """The task was killed while waiting: interrupt the run when ``interrupt_on_kill`` is set (best effort)."""
        interrupt, note = kill_plan(self.watched_run_id, self.batch_name, self.interrupt_on_kill)
        log_notes(self.log, (note,))
        if interrupt and self.watched_run_id is not None:
            self._interrupt(self.watched_run_id)


class OFSBatchRunActionOperator(ResumableJobMixin, OFSBatchRunWaitingOperator):  # type: ignore[misc]
    """Base of the operators whose call starts or changes a run (trigger, restart, rerun): act once, then watch.

    Subclasses implement ``act(context)``, the one call that starts or changes a run, returning the id to
    watch. Across Airflow's tries:

    - On Airflow 3.3+ (``durable``, the default there) the id is kept in the task-state store before
      waiting. An Airflow retry reconnects to that run while it is going, returns at once when it
      succeeded, and acts again only when it failed. A clear (a new round of tries asked for by a person)
      acts again, unless the run is still going: then it is watched, never started twice.
    - On older Airflow, or with ``durable=False``, a retry cannot find the run again. So a failure while
      waiting for a run that exists fails the task without retry (``OFSRunLostError``), and a call whose
      answer was lost fails without retry (``OFSOutcomeUnknownError``): no retry acts twice.

    :param durable: keep the run id in the task-state store so a retry reconnects (Airflow 3.3+; default
        on there). Ignored, and said once, on older Airflow.
    """

    #: The ESI verb ``act`` calls (``trigger``, ``restart`` or ``rerun``), as errors name it.
    verb: str

    def __init__(self, *, durable: bool | None = None, **kwargs: Any) -> None:
        if durable is not None:  # named here so default_args reach it; the mixin owns it
            kwargs["durable"] = durable
        super().__init__(**kwargs)
        self._durable_requested = durable is not False
        self._failed_run_of_previous_try: str | None = None
        self._status_of_previous_try: RunStatus | None = None
        self._retrying = True

    @fails_plainly
    def execute(self, context: Context) -> str:
        """Act (or reconnect to the run a previous try produced), then wait as configured; return the run id."""
        self._retrying = is_airflow_retry(context.get("ti"), self.retries)
        if self._durable_requested and not HAS_TASK_STATE_STORE:
            self.log.info("Airflow before 3.3 has no task-state store: a retry cannot reconnect to the OFS run")
        result: str = self.execute_resumable(context)
        return result

    def act(self, context: Context) -> str:
        """The call that starts or changes a run; returns the run id to watch."""
        raise NotImplementedError

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """The run as the ``ofs_batchRun`` run facet; the OpenLineage provider calls this (on failure too)."""
        from airflow_provider_ofs.lineage import OperatorLineage, run_lineage  # only with the OpenLineage provider

        if self.watched_run_id is None:  # no run: the call was refused, never made, or its answer lost
            return OperatorLineage()
        return run_lineage(self, self.watched_run_id, **self._lineage_details())

    def _lineage_details(self) -> dict[str, Any]:
        """The facet's fields only this operator knows: ``action``, and ``sourceBatchRunId`` and the like."""
        return {"action": self.verb}

    def _lost_call_error(self, sent_at: float | None) -> Exception:
        """A previous try was lost while its call was out: the call may have acted, and nobody recorded it.

        ``sent_at`` is ``None`` when the intent marker's time cannot be read.
        """
        from airflow_provider_ofs.protocol import outcome_unknown, utc_text  # where a task runs, not at parse time

        when = f"sent at {utc_text(sent_at)} UTC" if sent_at is not None else "at a time its intent marker does not say"
        happened = (
            f"A previous try of this task was lost while its {self.verb} call was out ({when}), before OFS's answer "
            f"was recorded"
        )
        return outcome_unknown(
            self.verb, self._call_subject(), happened, None if sent_at is None else (sent_at, time.time())
        )

    def _call_subject(self) -> str:
        """What the call acts on, as its error messages name it."""
        return self.batch_name

    def _accepted_call(self) -> tuple[str, str]:
        """The call ``act`` made, as messages name it: its verb and what it acted on."""
        return self.verb, self._call_subject()

    def _left_by_previous_try(self, run_id: str, context: Context, settled: frozenset[RunState]) -> bool:
        """On a retry that cannot reconnect (older Airflow): whether ``run_id`` shows a previous try acted already.

        Called before acting again; ``settled`` lists the states that mean "acted, do not act twice".
        """
        if not self._retrying or self._retry_reconnects(context):
            return False
        state = self.hook.get_status(run_id).state
        if state not in settled:
            return False
        self.log.info("Retry: OFS run %s is %s already; watching it instead of acting again", run_id, state.name)
        return True

    # ------------------------------------------------------------------- ResumableJobMixin contract

    def submit_job(self, context: Context) -> dict[str, Any]:
        """Act: trigger, restart or rerun (see ``act``), with an intent marker in the store while the call is out.

        The mixin records what this returns only after it returned; a worker lost in between would leave a retry
        with nothing to reconnect to. So the store holds ``ACTING_MARKER`` + the time while the call is out, and
        a retry that finds it fails with ``OFSOutcomeUnknownError`` instead of acting again. A call that
        certainly did nothing (it raised anything but ``OFSOutcomeUnknownError``) puts the previous value back.
        Once OFS accepted the call, the run is kept here (``_keep_accepted``) and returned as the store keeps it.
        """
        store = context.get("task_state_store") if self.durable else None
        if store is None:
            return self._keep_accepted(self.act(context), context, None)
        previous = store.get(self.external_id_key)
        store.set(self.external_id_key, intent_marker(time.time()))
        try:
            run_id = self.act(context)
        except OFSOutcomeUnknownError:
            raise
        except BaseException:
            if previous is None:
                store.delete(self.external_id_key)
            else:
                store.set(self.external_id_key, previous)
            raise
        return self._keep_accepted(run_id, context, store)

    def _keep_accepted(self, run_id: str, context: Context, store: Any) -> dict[str, Any]:
        """Keep the run OFS accepted: in the store (its batch and connection with it), then in XCom.

        Anything failing here fails the task without retry (``_accepted``), leaving the intent marker in the store.
        """
        kept = KeptRun(run_id, self.batch_name, self.ofs_conn_id).value()
        with self._accepted(run_id, *self._accepted_call()):
            if store is not None:
                store.set(self.external_id_key, kept)
            self._publish(run_id, context)
        return kept

    def get_job_status(self, external_id: Any, context: Context) -> str:
        """The kept run's state name; ``NOT_FOUND`` when OFS no longer knows it, ``CLEARED`` after a clear.

        What the store keeps is read by ``_kept_run`` first: on a retry, an intent marker left by a try that was
        lost while its call was out fails with ``OFSOutcomeUnknownError``, and an unreadable value or another
        batch's or connection's run with ``OFSTaskStateError``; after a clear, a person asked for a new run, and
        it acts anew.
        """
        kept = self._kept_run(external_id)
        if kept is None:
            return "CLEARED"
        run_id = kept.run_id
        try:
            status = self.hook.get_status(run_id)
        except OFSObjectNotFoundError:
            return "NOT_FOUND"
        self._status_of_previous_try = status
        state = status.state
        if state in STILL_RUNNING:
            if not self._retrying:
                self.log.warning(
                    "The task was cleared while OFS run %s is still %s: watching it rather than starting another",
                    run_id,
                    state.name,
                )
            return state.name
        if not self._retrying:
            self.log.info(
                "The task was cleared: OFS run %s of its earlier tries ended %s; acting anew", run_id, state.name
            )
            return "CLEARED"
        if state.is_failure:
            self._failed_run_of_previous_try = run_id
        return state.name

    def _kept_run(self, value: Any) -> KeptRun | None:
        """The run the store keeps, when this try may act on it; ``None`` when it acts anew (after a clear)."""
        kept = read_kept(value)
        if isinstance(kept, KeptRun):
            difference = kept.foreign_to(self.batch_name, self.ofs_conn_id)
            if difference is None:
                return kept
            error: Exception = self._foreign_run_error(kept, difference)
        elif isinstance(kept, CallOut):
            error = self._lost_call_error(kept.sent_at)
        else:
            error = self._unreadable_error(value, kept)
        if self._retrying:
            raise error
        self.log.warning("The task was cleared, so it acts anew and ignores what its earlier tries kept: %s", error)
        return None

    def _foreign_run_error(self, kept: KeptRun, difference: str) -> OFSTaskStateError:
        """The store keeps another batch's or connection's run (the DAG or a template changed between tries)."""
        return OFSTaskStateError(
            f"The task-state store of this task keeps OFS run {kept.run_id} ({difference}) under "
            f"{self.external_id_key!r}: an earlier try ran with another batch or connection. This retry neither "
            f"takes that run for its own nor acts again, since the earlier try's run may still be going. Look at run "
            f"{kept.run_id} in the OFS Batch Monitor, then clear this task to {self.verb} {self._call_subject()} "
            f"anew (a clear ignores the kept run)."
        )

    def _unreadable_error(self, value: Any, unreadable: Unreadable) -> OFSTaskStateError:
        """The store keeps a value that is neither a run nor an intent marker."""
        from airflow_provider_ofs.protocol import quote_value  # where a task runs, not at parse time

        return OFSTaskStateError(
            f"The task-state store of this task keeps {quote_value(value)} under {self.external_id_key!r}, which is "
            f"neither a run nor an intent marker: {unreadable.reason}. An earlier try may have acted, so this retry "
            f"does not. Look in the OFS Batch Monitor for a run of {self._call_subject()} from this task's earlier "
            f"tries, then clear this task to {self.verb} anew (a clear ignores the value)."
        )

    def is_job_active(self, status: str) -> bool:
        """Not started, ongoing or held: reconnect to it."""
        return status in {state.name for state in STILL_RUNNING}

    def is_job_succeeded(self, status: str) -> bool:
        """Successful (or excluded as a whole): nothing left to do."""
        return status in {state.name for state in DONE_WITHOUT_FAILURE}

    def poll_until_complete(self, external_id: Any, context: Context) -> str:  # type: ignore[override]
        """Wait for the run (or defer); return the id that ended well (a restart may replace the first).

        Returned because the mixin's reconnect path returns what this method returns, not ``get_job_result``.
        """
        return self.watch(run_id_of(external_id), context)

    def get_job_result(self, external_id: Any, context: Context) -> str:
        """The run id to return: the last one watched (a restart may have replaced the first)."""
        if self.watched_run_id is None:  # the previous try's run had already succeeded
            self._publish(run_id_of(external_id), context)
            status = self._status_of_previous_try
            if status is not None:
                push_outcome(self, context, RunOutcome.of(status, status.state))
        return self.watched_run_id or run_id_of(external_id)

    def _restarted(self, run_id: str, context: Context) -> None:
        """Keep the restarted run for a retry to reconnect to."""
        store = context.get("task_state_store") if self.durable else None
        if store is not None:
            store.set(self.external_id_key, KeptRun(run_id, self.batch_name, self.ofs_conn_id).value())


class OFSTriggerBatchOperator(OFSBatchRunActionOperator):
    """Trigger an OFS batch or batch group and, by default, wait for the run to end.

    The run id is pushed to XCom (key ``batch_run_id``) as soon as the run exists and is the task's
    return value. A failed, interrupted or aborted run fails the task with ``OFSRunFailedError``
    naming the run id, its state and the failed task codes (child run ids for a group); held work
    keeps the task waiting and is logged. Across retries and clears see ``OFSBatchRunActionOperator``:
    on Airflow 3.3+ a retry reconnects to a live run, returns at once when it succeeded, and restarts
    (``restart_on_retry``) or re-triggers a failed one; a clear triggers anew.

    :param batch_name: the batch (``batch_type="batch"``) or batch group (``"group"``) to run (templated).
    :param batch_type: ``"batch"`` or ``"group"``.
    :param excluded_tasks: task codes (batch) or batch codes (group) to skip, as a list or comma-separated
        text (templated).
    :param held_tasks: codes to hold, same forms (templated); a run with held work does not finish until
        they are released in OFS.
    :param included_tasks: codes to run, the others being left out, same forms (templated); sent as
        ``includedTasks`` only when given, for OFS editions whose trigger takes it (this guide does not list it).
    :param mis_date: MIS date as ``yyyy-mm-dd`` text or a date (templated, e.g. ``"{{ ds }}"``); fills the
        ``$FICMISDATE$`` batch parameter (for a group, of every batch in ``group_params``).
    :param batch_params: batch parameters of a batch (templated).
    :param task_params: task code → runtime parameters of a batch (templated).
    :param group_params: for a group, batch code → ``{"batchParams": ..., "taskRuntimeParams": ...}`` (templated).
    :param wait_for_completion: see ``OFSBatchRunWaitingOperator``; also ``poll_interval``, ``timeout``,
        ``deferrable``, ``max_restarts``, ``interrupt_on_kill`` and ``ofs_conn_id``.
    :param durable: see ``OFSBatchRunActionOperator`` (``False`` triggers a new run on every try).
    :param restart_on_retry: when a retry finds the previous try's run failed, restart it (Restart API)
        instead of triggering a new run.
    :param if_succeeded_for_mis_date: ``"run"`` (default) triggers whatever ran before; ``"skip"`` skips the
        task (nothing sent to OFS) when an event of the batch's asset says a run for ``mis_date`` succeeded,
        and logs that run and its link. Two tasks starting at the same moment both trigger: give them a
        pool of one slot.
    """

    template_fields: Sequence[str] = (
        "batch_name",
        "ofs_conn_id",
        "excluded_tasks",
        "held_tasks",
        "included_tasks",
        "mis_date",
        "batch_params",
        "task_params",
        "group_params",
    )
    template_fields_renderers = {"batch_params": "json", "task_params": "json", "group_params": "json"}
    external_id_key = "ofs_batch_run_id"
    verb = "trigger"

    def __init__(
        self,
        *,
        batch_name: str,
        batch_type: str = "batch",
        excluded_tasks: str | Iterable[str] | None = None,
        held_tasks: str | Iterable[str] | None = None,
        included_tasks: str | Iterable[str] | None = None,
        mis_date: str | date | None = None,
        batch_params: Mapping[str, Any] | None = None,
        task_params: Mapping[str, Mapping[str, Any]] | None = None,
        group_params: Mapping[str, Mapping[str, Any]] | None = None,
        restart_on_retry: bool = False,
        if_succeeded_for_mis_date: str = "run",
        **kwargs: Any,
    ) -> None:
        super().__init__(batch_name=batch_name, **kwargs)
        check_mis_date_policy(if_succeeded_for_mis_date, mis_date)
        self.if_succeeded_for_mis_date = if_succeeded_for_mis_date
        self.batch_type = batch_type
        self.excluded_tasks = excluded_tasks
        self.held_tasks = held_tasks
        self.included_tasks = included_tasks
        self.mis_date = mis_date
        self.batch_params = batch_params
        self.task_params = task_params
        self.group_params = group_params
        self.restart_on_retry = restart_on_retry
        self._restarted_run: str | None = None  # the previous try's failed run, when this try restarted it
        wire_batch_type(batch_type)
        if not is_template(mis_date):
            mis_date_text(mis_date)

    def execute(self, context: Context) -> str:
        """Trigger the run (or reconnect to the previous try's), then wait as configured; return its id."""
        self._dynamic_params = self._rendered_arguments()
        if self.if_succeeded_for_mis_date == "skip":
            skip_if_succeeded_before(self)
        return super().execute(context)

    def _rendered_arguments(self) -> str | None:
        """Validate the rendered arguments before anything is sent; return ``dynamicParamList``."""
        require_name("batch_name", self.batch_name)
        join_codes("excluded_tasks", self.excluded_tasks)
        join_codes("held_tasks", self.held_tasks)
        join_codes("included_tasks", self.included_tasks)
        return encode_dynamic_params(
            self.batch_type,
            mis_date=self.mis_date,
            batch_params=self.batch_params,
            task_params=self.task_params,
            group_params=self.group_params,
        )

    def _lineage_details(self) -> dict[str, Any]:
        restarted = {"action": "restart", "sourceBatchRunId": self._restarted_run} if self._restarted_run else {}
        return {
            **super()._lineage_details(),
            "batchType": self.batch_type,
            "misDate": mis_date_text(self.mis_date),
            **restarted,
        }

    def _accepted_call(self) -> tuple[str, str]:
        if self._restarted_run is not None:
            return "restart", f"run {self._restarted_run} of {self.batch_name}"
        return super()._accepted_call()

    def act(self, context: Context) -> str:
        """Trigger the run, or restart the previous try's failed run when ``restart_on_retry`` is set."""
        failed_run = self._failed_run_of_previous_try
        if failed_run is not None and self.restart_on_retry:
            try:
                run_id = self.hook.restart(self.batch_name, failed_run)
            except (OFSNotOngoingError, OFSObjectNotFoundError) as error:
                self.log.warning("Cannot restart OFS run %s (%s); triggering a new run", failed_run, error)
            else:
                self._restarted_run = failed_run
                with self._accepted(run_id, *self._accepted_call()):
                    self.log.info("Restarted OFS run %s of the previous try; watching %s", failed_run, run_id)
                return run_id
        return self.hook.trigger(
            self.batch_name,
            self.batch_type,
            excluded_tasks=self.excluded_tasks,
            held_tasks=self.held_tasks,
            dynamic_params=self._dynamic_params,
            included_tasks=self.included_tasks,
        )


class OFSRestartBatchOperator(OFSBatchRunActionOperator):
    """Restart a failed or interrupted OFS run (only what did not succeed runs again) and, by default, wait.

    Returns the run id to watch (what the Restart API answered; XCom ``batch_run_id`` too). Waiting,
    deferral, restarts and interrupting work as for ``OFSTriggerBatchOperator``, and so do retries and
    clears (``OFSBatchRunActionOperator``): once OFS accepted the restart, a retry watches the run it
    produced instead of restarting again. On Airflow before 3.3 a retry first reads the run's state
    and watches it when a previous try's restart is under way or succeeded.

    :param batch_name: the run's batch or batch group (templated).
    :param batch_run_id: the run to restart (templated).
    :param wait_for_completion: see ``OFSBatchRunWaitingOperator``; also ``poll_interval``, ``timeout``,
        ``deferrable``, ``max_restarts``, ``interrupt_on_kill``, ``durable`` and ``ofs_conn_id``.
    """

    template_fields: Sequence[str] = ("batch_name", "batch_run_id", "ofs_conn_id")
    external_id_key = "ofs_restart_run_id"
    verb = "restart"

    def __init__(self, *, batch_name: str, batch_run_id: str, **kwargs: Any) -> None:
        super().__init__(batch_name=batch_name, **kwargs)
        self.batch_run_id = batch_run_id
        if not is_template(batch_run_id):
            require_name("batch_run_id", batch_run_id)

    def _call_subject(self) -> str:
        return f"run {self.batch_run_id} of {self.batch_name}"

    def _target(self) -> str:
        """The run to act on: the previous try's restarted run when that one failed again, else ``batch_run_id``."""
        return self._failed_run_of_previous_try or self.batch_run_id

    def _lineage_details(self) -> dict[str, Any]:
        return {**super()._lineage_details(), "sourceBatchRunId": self._target()}

    def act(self, context: Context) -> str:
        """Restart the run (or the previous try's restarted run, when that one failed again)."""
        target = self._target()
        if self._left_by_previous_try(target, context, STILL_RUNNING | DONE_WITHOUT_FAILURE):
            return target
        return self.hook.restart(self.batch_name, target)


class OFSRerunBatchOperator(OFSRestartBatchOperator):
    """Rerun a completed OFS run from the beginning and, by default, wait for the new run.

    Returns the run id to watch; it may be a new id or the old one, depending on the firm's OFS set-up.
    Once OFS accepted the rerun, a retry watches the run it produced instead of rerunning again (see
    ``OFSBatchRunActionOperator``); on Airflow before 3.3, where a retry cannot know a new run id, a
    failure while waiting for the rerun fails the task without retry, naming the run.

    :param batch_name: the run's batch or batch group (templated).
    :param batch_run_id: the completed run to rerun (templated).
    :param wait_for_completion: see ``OFSBatchRunWaitingOperator``; also ``poll_interval``, ``timeout``,
        ``deferrable``, ``max_restarts``, ``interrupt_on_kill``, ``durable`` and ``ofs_conn_id``.
    """

    external_id_key = "ofs_rerun_run_id"
    verb = "rerun"

    def _target(self) -> str:
        """The completed run to rerun (a rerun never targets a previous try's run)."""
        return self.batch_run_id

    def act(self, context: Context) -> str:
        """Rerun the run, unless a previous try's rerun kept its id and is still going."""
        if self._left_by_previous_try(self.batch_run_id, context, STILL_RUNNING):
            return self.batch_run_id
        return self.hook.rerun(self.batch_name, self.batch_run_id)


class OFSInterruptBatchOperator(BaseOperator):
    """Interrupt an OFS run; a run that is already interrupted (code -7) counts as done and is logged.

    Returns the interrupted run id.

    :param batch_name: the run's batch or batch group (templated).
    :param batch_run_id: the run to interrupt (templated).
    :param ofs_conn_id: the ``ofs_scheduler`` connection.
    """

    template_fields: Sequence[str] = ("batch_name", "batch_run_id", "ofs_conn_id")
    ui_color = "#f5d6c6"

    def __init__(
        self,
        *,
        batch_name: str,
        batch_run_id: str,
        ofs_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch_name = batch_name
        self.batch_run_id = batch_run_id
        self.ofs_conn_id = ofs_conn_id
        for name, value in (("batch_name", batch_name), ("batch_run_id", batch_run_id)):
            if not is_template(value):
                require_name(name, value)

    @fails_plainly
    def execute(self, context: Context) -> str:
        """Interrupt the run."""
        from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

        OFSSchedulerHook(ofs_conn_id=self.ofs_conn_id).interrupt(self.batch_name, self.batch_run_id)
        return self.batch_run_id


__all__ = [
    "MIS_DATE_OF_RUN",
    "XCOM_RUN_ID_KEY",
    "OFSBatchRunActionOperator",
    "OFSBatchRunWaitingOperator",
    "OFSInterruptBatchOperator",
    "OFSRerunBatchOperator",
    "OFSRestartBatchOperator",
    "OFSTriggerBatchOperator",
]
