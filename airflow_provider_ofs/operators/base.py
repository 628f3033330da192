"""The bases of the operators that start or change a run: how they wait (a ``RunWaiter`` of
``operators.run_waiter`` does it) and how they act once across Airflow's tries (``operators.act_once``)."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_ofs._compat import (
    BaseOperator,
    Context,
    ResumableJobMixin,
    airflow_version,
    default_deferrable,
)
from airflow_provider_ofs.arguments import DEFAULT_CONN_ID, is_template, poll_seconds, require_name, seconds
from airflow_provider_ofs.assets import with_batch_asset, with_runs_alias
from airflow_provider_ofs.exceptions import fails_plainly
from airflow_provider_ofs.operators.act_once import ActOnce, RunKeeper, is_active, is_succeeded
from airflow_provider_ofs.operators.run_waiter import RunWaiter
from airflow_provider_ofs.published import OFSBatchMonitorLink, RunOutcome
from airflow_provider_ofs.queues import partial_with_ofs_queue, with_ofs_queue
from airflow_provider_ofs.recovery import OFSRecovery, unsupported_reason

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook


class OFSBatchRunWaitingOperator(BaseOperator):
    """Base of the operators that start a run: push its id, then wait for it (or defer), restarting on failure.

    Subclasses implement ``execute`` and call ``watch(run_id, context)`` once the run exists; the wait itself
    is a ``RunWaiter`` (``operators.run_waiter``), which keeps a restarted run with ``run_keeper`` when one is
    set. Not meant for DAGs on its own.

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
        (``airflow_provider_ofs.assets``): through the batch's asset, added to the task's outlets, when the
        connection id and batch name are plain text (``asset_events.with_batch_asset``); otherwise through the
        alias ``ofs_batch_runs``, added to the outlets too.
    :param recovery: when the run fails (after ``max_restarts``), ask a person in Airflow's Required Actions
        whether to Restart, Rerun, Mark done or Fail (``airflow_provider_ofs.recovery.OFSRecovery``; Airflow
        3.3+, refused where the DAG is parsed on older Airflow). ``None``: the task fails.
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
        recovery: OFSRecovery | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**with_ofs_queue(kwargs))
        if recovery is not None:
            reason = unsupported_reason(airflow_version())
            if reason is not None:
                raise ValueError(reason)
            if not isinstance(recovery, OFSRecovery):
                raise ValueError(f"recovery must be an OFSRecovery or None, not {recovery!r}")
            if not wait_for_completion:
                raise ValueError("recovery asks about a run the task waits for: it needs wait_for_completion=True")
        self.recovery = recovery
        #: The answers a person gave about this try's failed runs (``recovery``), oldest first.
        self.recovery_answers: list[dict[str, Any]] = []
        self.batch_name = batch_name
        self.wait_for_completion = wait_for_completion
        self.emit_asset_event = emit_asset_event
        if emit_asset_event and wait_for_completion:
            self.outlets = with_runs_alias(self.outlets)
            if not getattr(self, "_BaseOperator__from_mapped", False):  # a mapped task's are what partial gave
                self.outlets = with_batch_asset(self.outlets, ofs_conn_id, batch_name)
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
        #: Where a run that replaces the watched one (a restart) is kept for a retry; ``None``: nowhere.
        self.run_keeper: RunKeeper | None = None
        if not is_template(batch_name):
            require_name("batch_name", batch_name)

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:  # type: ignore[override]
        """Airflow's ``partial``, with the ``ofs_batch_runs`` alias (and the batch's asset) in the outlets and
        ``[ofs] queue``, as ``__init__`` adds them.

        A mapped task's outlets are what ``partial`` was given: without this, Airflow would not register the
        alias where the DAG is parsed (Airflow 2 then cannot link the event to it).
        """
        if kwargs.get("emit_asset_event", True) and kwargs.get("wait_for_completion", True):
            kwargs["outlets"] = with_runs_alias(kwargs.get("outlets"))
            if "batch_name" in kwargs:
                conn_id = kwargs.get("ofs_conn_id", DEFAULT_CONN_ID)
                kwargs["outlets"] = with_batch_asset(kwargs["outlets"], conn_id, kwargs["batch_name"])
        return partial_with_ofs_queue(super().partial(**kwargs), kwargs)

    @cached_property
    def hook(self) -> OFSSchedulerHook:
        """The hook for ``ofs_conn_id`` (loaded here: parsing a DAG file needs neither it nor the protocol)."""
        from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

        return OFSSchedulerHook(ofs_conn_id=self.ofs_conn_id)

    def watch(self, run_id: str, context: Context) -> str:
        """Publish the run id, then wait for the run (or defer to the trigger); return the id that ended well."""
        return self._waiter().watch(run_id, context)

    def publish(self, run_id: str, context: Context) -> None:
        """Make the run known before waiting: XCom ``batch_run_id``, and ``batch_run_url`` for the extra link."""
        self._waiter().publish(run_id, context)

    @fails_plainly
    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, restarts_done: int = 0, asks_done: int = 0
    ) -> str:
        """Resume after the trigger's event: succeed, restart and defer again, ask (``recovery``), or fail naming
        the run."""
        return self._waiter(asks_done).resume(context, event, restarts_done)

    @fails_plainly
    def execute_recovery(
        self, context: Context, event: dict[str, Any], run_id: str, asks_done: int, restarts_done: int = 0
    ) -> str:
        """Resume with a person's answer about failed run ``run_id`` (``recovery``): carry it out once."""
        return self._waiter(asks_done).answered(context, event, run_id, restarts_done)

    def ask_about(self, run_id: str, status: Any, context: Context) -> NoReturn:
        """Ask a person about a failed run a previous try left (``recovery``); see ``RunWaiter.ask_about``."""
        self._waiter().ask_about(run_id, status, context)

    def on_kill(self) -> None:
        """The task was killed while waiting: interrupt the run when ``interrupt_on_kill`` is set (best effort)."""
        self._waiter().on_kill()

    def _waiter(self, asks_done: int = 0) -> RunWaiter:
        return RunWaiter(self, self.run_keeper, asks_done)


class OFSBatchRunActionOperator(ResumableJobMixin, OFSBatchRunWaitingOperator):  # type: ignore[misc]
    """Base of the operators whose call starts or changes a run (trigger, restart, rerun): act once, then watch.

    Subclasses implement ``act(context, previous)``, the one call that starts or changes a run, returning the
    id to watch; ``previous`` (``ActOnce``) says what the task's previous tries left: ``failed_run``, and
    ``acted_already(run_id, context, settled)`` for Airflow without a task-state store. Across Airflow's
    tries the rules of ``operators.act_once`` hold:

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
    run_keeper: RunKeeper
    _act_once: ActOnce  # this try's side of the act-once rules, made by ``execute``

    def __init__(self, *, durable: bool | None = None, **kwargs: Any) -> None:
        if durable is not None:  # named here so default_args reach it; the mixin owns it
            kwargs["durable"] = durable
        super().__init__(**kwargs)
        self.run_keeper = RunKeeper(self.external_id_key, durable=self.durable, requested=durable is not False)

    @fails_plainly
    def execute(self, context: Context) -> str:
        """Act (or reconnect to the run a previous try produced), then wait as configured; return the run id."""
        self._act_once = ActOnce(self, self.run_keeper, context)
        result: str = self.execute_resumable(context)
        return result

    def act(self, context: Context, previous: ActOnce) -> str:
        """The call that starts or changes a run; returns the run id to watch."""
        raise NotImplementedError

    def call_subject(self) -> str:
        """What the call acts on, as its error messages name it."""
        return self.batch_name

    def accepted_call(self) -> tuple[str, str]:
        """The call ``act`` made, as messages name it: its verb and what it acted on."""
        return self.verb, self.call_subject()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """The run as the ``ofs_batchRun`` run facet; the OpenLineage provider calls this (on failure too)."""
        from airflow_provider_ofs.lineage import OperatorLineage, run_lineage  # only with the OpenLineage provider

        if self.watched_run_id is None:  # no run: the call was refused, never made, or its answer lost
            return OperatorLineage()
        return run_lineage(self, self.watched_run_id, **self._lineage_details())

    def _lineage_details(self) -> dict[str, Any]:
        """The facet's fields only this operator knows: ``action``, and ``sourceBatchRunId`` and the like."""
        return {"action": self.verb}

    # --------------------------------------- ResumableJobMixin (Airflow's API): handed to ActOnce

    def submit_job(self, context: Context) -> dict[str, Any]:
        """Act, with an intent marker in the store while the call is out (``ActOnce.submit``)."""
        return self._act_once.submit(context)

    def get_job_status(self, external_id: Any, context: Context) -> str:
        """The kept run's state name, ``NOT_FOUND`` or ``CLEARED`` (``ActOnce.status``)."""
        return self._act_once.status(external_id, context)

    def is_job_active(self, status: str) -> bool:
        """Not started, ongoing or held: reconnect to it."""
        return is_active(status)

    def is_job_succeeded(self, status: str) -> bool:
        """Successful (or excluded as a whole): nothing left to do."""
        return is_succeeded(status)

    def poll_until_complete(self, external_id: Any, context: Context) -> str:  # type: ignore[override]
        """Wait for the run (or defer); return the id that ended well (``ActOnce.watch``)."""
        return self._act_once.watch(external_id, context)

    def get_job_result(self, external_id: Any, context: Context) -> str:
        """The run id to return: the last one watched (``ActOnce.result``)."""
        return self._act_once.result(external_id, context)


__all__ = ["OFSBatchRunActionOperator", "OFSBatchRunWaitingOperator"]
