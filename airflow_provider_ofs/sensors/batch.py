"""``OFSBatchRunSensor``: wait for an existing OFS run (or some of its tasks) to end, in any sensor mode."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_ofs._compat import AirflowSensorTimeout, BaseSensorOperator, Context, default_deferrable
from airflow_provider_ofs.arguments import DEFAULT_CONN_ID, is_template, poll_seconds
from airflow_provider_ofs.assets import with_batch_asset, with_runs_alias
from airflow_provider_ofs.exceptions import fails_plainly
from airflow_provider_ofs.published import OFSBatchMonitorLink, RunOutcome, push_outcome, push_run
from airflow_provider_ofs.queues import with_ofs_queue
from airflow_provider_ofs.run_ids import require_run_id, run_id_problem
from airflow_provider_ofs.run_watch import End, Look, RunWatch, log_notes
from airflow_provider_ofs.watching import WatchEvent, try_deadline

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
        super().__init__(**with_ofs_queue(kwargs))
        self.emit_asset_event = emit_asset_event
        if emit_asset_event and batch_name is not None:
            self.outlets = with_runs_alias(self.outlets)
            if not getattr(self, "_BaseOperator__from_mapped", False):  # a mapped task's are what partial gave
                self.inlets = with_batch_asset(self.inlets, ofs_conn_id, batch_name)
        self.batch_run_id = batch_run_id
        self.tasks = tasks
        self.batch_name = batch_name
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval = float(self.poke_interval)
        self.ofs_conn_id = ofs_conn_id
        self._watch: RunWatch | None = None
        self.run_outcome: RunOutcome | None = None
        #: The run once OFS answered for it (a status call of this process, or the trigger's event).
        self.watched_run_id: str | None = None
        if not is_template(batch_run_id):
            require_run_id("batch_run_id", batch_run_id)

    @cached_property
    def hook(self) -> OFSSchedulerHook:
        """The hook for ``ofs_conn_id`` (loaded here: parsing a DAG file needs neither it nor the protocol)."""
        from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

        return OFSSchedulerHook(ofs_conn_id=self.ofs_conn_id)

    def _run_watch(self) -> RunWatch:
        """The watch of ``batch_run_id`` for pokes, made at the first one (once its template is rendered)."""
        if self._watch is None:
            self._watch = self._new_watch(deadline=None, waiting_since=time.time())
        return self._watch

    def _new_watch(self, deadline: float | None, waiting_since: float) -> RunWatch:
        """A watch of ``batch_run_id``; the sensor never interrupts the run, which it did not start."""
        return RunWatch(
            self.batch_run_id,
            poll_interval=self.poll_interval,
            waiting_since=waiting_since,
            tasks=self.tasks,
            deadline=deadline,
        )

    @fails_plainly
    def execute(self, context: Context) -> Any:
        """Poke (or reschedule) as usual, or defer to the trigger when ``deferrable``."""
        self._require_run_id(context)
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

        now = time.time()
        watch = self._new_watch(try_deadline(context, now, self.timeout, self.execution_timeout), now)
        trigger = OFSBatchRunTrigger.going_on_with(watch, self.ofs_conn_id, now, self.poll_interval)
        self.defer(trigger=trigger, method_name="execute_complete", timeout=None)

    def _require_run_id(self, context: Context) -> None:
        """A rendered ``batch_run_id`` that is a run id (``run_ids.run_id_problem``), stripped; when an asset
        event should have given it, name that event."""
        if run_id_problem(self.batch_run_id) is None:
            self.batch_run_id = self.batch_run_id.strip()
            return
        from airflow_provider_ofs.asset_events import triggering_run  # reads Airflow's asset events: load lazily

        announced = triggering_run(context)
        if announced is not None and not announced.get("batchRunId"):
            raise ValueError(
                f"batch_run_id is empty: the asset event that triggered this DAG run has no 'batchRunId' in its "
                f"extra {announced!r}. Post the event with the id of the OFS run to watch as extra 'batchRunId'."
            )
        require_run_id("batch_run_id", self.batch_run_id)

    def poke(self, context: Context) -> bool:
        """One status call: ``True`` when done well, ``False`` to keep waiting; raise when it failed."""
        watch = self._run_watch()
        status = self.hook.get_status(self.batch_run_id, watch.tasks)
        self.watched_run_id = self.batch_run_id
        return self._follow(watch.look(status, time.time()), context)

    @fails_plainly
    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """Resume after the trigger's event: return on success, raise otherwise (timeout as a sensor timeout)."""
        watched = WatchEvent.from_payload(event)
        self.watched_run_id = watched.run_id
        if self._follow(self._run_watch().resume(watched), context):
            self.log.info("%s", watched.message)

    def _follow(self, look: Look, context: Context) -> bool:
        """Act on the watch's answer: ``True`` when done well, ``False`` to keep waiting; raise when it failed."""
        log_notes(self.log, look.notes)
        if look.outcome is not None:
            push_outcome(self, context, look.outcome)
        if look.end is End.DEADLINE:  # only after the trigger: Airflow bounds a sensor that pokes or reschedules
            raise AirflowSensorTimeout(look.message)
        if look.error is not None:
            raise look.error
        return look.end is End.SUCCESS

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """The watched run as the ``ofs_batchRun`` run facet; the OpenLineage provider calls this (on failure too)."""
        from airflow_provider_ofs.lineage import OperatorLineage, run_lineage  # only with the OpenLineage provider

        if self.watched_run_id is None:  # OFS never answered for this run (unrendered, unknown or unreachable)
            return OperatorLineage()
        return run_lineage(self, self.watched_run_id, action="watch")
