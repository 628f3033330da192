"""``OFSBatchRunSensor``: wait for an existing OFS run (or some of its tasks) to end, in any sensor mode."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_ofs._compat import AirflowSensorTimeout, BaseSensorOperator, Context, default_deferrable
from airflow_provider_ofs.arguments import DEFAULT_CONN_ID, require_name
from airflow_provider_ofs.assets import with_runs_alias
from airflow_provider_ofs.exceptions import fails_plainly
from airflow_provider_ofs.published import OFSBatchMonitorLink, RunOutcome, push_outcome, push_run
from airflow_provider_ofs.watching import (
    EventStatus,
    RunProgress,
    Verdict,
    WatchEvent,
    assess,
    is_template,
    poll_seconds,
    run_failed_error,
    wait_deadline,
)

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook


class OFSBatchRunSensor(BaseSensorOperator):
    """Succeed when an OFS run has succeeded; fail (raise) as soon as it failed, was interrupted or aborted.

    With ``tasks`` only those task codes decide: success once each is successful or excluded, failure
    as soon as one failed or the run ended without running it. Held work keeps the sensor waiting
    and is logged. Works in ``poke`` and ``reschedule`` modes, or deferred to ``OFSBatchRunTrigger``;
    the sensor's ``timeout`` (and ``execution_timeout``) bound the deferred wait too. The sensor never
    interrupts the run: it did not start it.

    :param batch_run_id: the run to watch (templated), e.g. the XCom ``batch_run_id`` of an
        ``OFSTriggerBatchOperator`` that does not wait.
    :param tasks: optional task codes to watch instead of the whole run (templated); for a batch run only.
        Given for the run of a batch group, the first poke fails the task without retry
        (``OFSTasksOfGroupError``): the guide documents ``tasks`` for batches, and a group's status names
        its child runs by run id only, so no child batch could be matched to a code.
    :param batch_name: the run's batch or group (templated); only fills ``{batch_name}`` of the
        connection's ``monitor_url`` for the **OFS Batch Monitor** link.
    :param deferrable: wait in the triggerer; defaults to Airflow's ``[operators] default_deferrable``.
    :param poll_interval: seconds between status calls (the sensor's ``poke_interval``).
    :param ofs_conn_id: the ``ofs_scheduler`` connection.
    :param emit_asset_event: when the whole run succeeds (not with ``tasks``) and ``batch_name`` is given,
        emit an event of the batch's asset (``airflow_provider_ofs.assets``), through the alias
        ``ofs_batch_runs`` added to the task's outlets; not when this DAG run was triggered by an event
        for that same run.
    :param kwargs: ``BaseSensorOperator`` arguments: ``mode``, ``timeout``, ``soft_fail``, ...
    """

    template_fields: Sequence[str] = ("batch_run_id", "tasks", "batch_name", "ofs_conn_id")
    ui_color = "#f5d6c6"
    operator_extra_links = (OFSBatchMonitorLink(),)

    def __init__(
        self,
        *,
        batch_run_id: str,
        tasks: Sequence[str] | None = None,
        batch_name: str | None = None,
        deferrable: bool | None = None,
        poll_interval: float | timedelta = 30.0,
        ofs_conn_id: str = DEFAULT_CONN_ID,
        emit_asset_event: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", poll_seconds(poll_interval))
        super().__init__(**kwargs)
        self.emit_asset_event = emit_asset_event
        if emit_asset_event and batch_name is not None:
            self.outlets = with_runs_alias(self.outlets)
        self.batch_run_id = batch_run_id
        self.tasks = tasks
        self.batch_name = batch_name
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval = float(self.poke_interval)
        self.ofs_conn_id = ofs_conn_id
        self._progress: RunProgress | None = None
        self.run_outcome: RunOutcome | None = None
        #: The run once OFS answered for it (a status call of this process, or the trigger's event).
        self.watched_run_id: str | None = None
        if not is_template(batch_run_id):
            require_name("batch_run_id", batch_run_id)

    @cached_property
    def hook(self) -> OFSSchedulerHook:
        """The hook for ``ofs_conn_id`` (loaded here: parsing a DAG file needs neither it nor the protocol)."""
        from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

        return OFSSchedulerHook(ofs_conn_id=self.ofs_conn_id)

    def _watched_tasks(self) -> list[str] | None:
        if not self.tasks:
            return None
        codes = self.tasks.split(",") if isinstance(self.tasks, str) else [str(code) for code in self.tasks]
        return [code.strip() for code in codes if code.strip()] or None

    @fails_plainly
    def execute(self, context: Context) -> Any:
        """Poke (or reschedule) as usual, or defer to the trigger when ``deferrable``."""
        require_name("batch_run_id", self.batch_run_id)
        push_run(
            self,
            context,
            self.batch_run_id,
            self.hook.monitor_url(self.batch_run_id, self.batch_name or ""),
        )
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):  # already over: no need to occupy the triggerer
            return None
        from airflow_provider_ofs.triggers.batch import OFSBatchRunTrigger  # only when deferring (see operators)

        ti = context.get("ti")
        started = getattr(ti, "start_date", None)
        now = time.time()
        self.defer(
            trigger=OFSBatchRunTrigger(
                batch_run_id=self.batch_run_id,
                ofs_conn_id=self.ofs_conn_id,
                poll_interval=self.poll_interval,
                tasks=self._watched_tasks(),
                deadline=wait_deadline(
                    now, self.timeout, self.execution_timeout, started.timestamp() if started is not None else None
                ),
                waiting_since=now,
                interrupt_on_kill=False,
            ),
            method_name="execute_complete",
            timeout=None,
        )

    def poke(self, context: Context) -> bool:
        """One status call: ``True`` when done well, ``False`` to keep waiting; raise when it failed."""
        status = self.hook.get_status(self.batch_run_id, self._watched_tasks())
        self.watched_run_id = self.batch_run_id
        if self._progress is None:
            self._progress = RunProgress(self.batch_run_id, self.poke_interval)
        for line in self._progress.update(status):
            self.log.info("%s", line)
        assessment = assess(status, self._watched_tasks())
        if assessment.verdict is not Verdict.WAIT:
            push_outcome(self, context, RunOutcome.of(status, assessment.state, assessment.failed_tasks))
        if assessment.verdict is Verdict.FAILURE:
            raise run_failed_error(self.batch_run_id, assessment)
        return assessment.verdict is Verdict.SUCCESS

    @fails_plainly
    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """Resume after the trigger's event: return on success, raise otherwise (timeout as a sensor timeout)."""
        watched = WatchEvent.from_payload(event)
        self.watched_run_id = watched.run_id
        outcome = watched.outcome()
        if outcome is not None:
            push_outcome(self, context, outcome)
        if watched.status is EventStatus.TIMEOUT:
            raise AirflowSensorTimeout(watched.message)
        error = watched.error()
        if error is not None:
            raise error
        self.log.info("%s", watched.message)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """The watched run as the ``ofs_batchRun`` run facet; the OpenLineage provider calls this (on failure too)."""
        from airflow_provider_ofs.lineage import OperatorLineage, run_lineage  # only with the OpenLineage provider

        if self.watched_run_id is None:  # OFS never answered for this run (unrendered, unknown or unreachable)
            return OperatorLineage()
        return run_lineage(self, self.watched_run_id, action="watch")
