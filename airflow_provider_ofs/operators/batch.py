"""The OFS operators: what each asks OFS (trigger, restart, rerun, interrupt a batch or group run) and how it watches.

Their bases (``operators.base``) compose the wait (``operators.run_waiter``) and the act-once rules across
Airflow's tries (``operators.act_once``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from airflow_provider_ofs._compat import BaseOperator, Context
from airflow_provider_ofs.arguments import (
    DEFAULT_CONN_ID,
    MIS_DATE_OF_RUN,
    encode_dynamic_params,
    is_template,
    join_codes,
    mis_date_text,
    require_name,
    wire_batch_type,
)
from airflow_provider_ofs.assets import check_mis_date_policy
from airflow_provider_ofs.exceptions import OFSNotOngoingError, OFSObjectNotFoundError, fails_plainly
from airflow_provider_ofs.operators.act_once import ActOnce, accepted
from airflow_provider_ofs.operators.base import OFSBatchRunActionOperator, OFSBatchRunWaitingOperator
from airflow_provider_ofs.published import XCOM_RUN_ID_KEY
from airflow_provider_ofs.queues import with_ofs_queue
from airflow_provider_ofs.run_ids import require_run_id
from airflow_provider_ofs.states import DONE_WITHOUT_FAILURE, STILL_RUNNING


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
            from airflow_provider_ofs.skip_policy import skip_if_succeeded_before  # calls OFS: where a task runs

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

    def accepted_call(self) -> tuple[str, str]:
        if self._restarted_run is not None:
            return "restart", f"run {self._restarted_run} of {self.batch_name}"
        return super().accepted_call()

    def act(self, context: Context, previous: ActOnce) -> str:
        """Trigger the run, or restart the previous try's failed run when ``restart_on_retry`` is set."""
        failed_run = previous.failed_run
        if failed_run is not None and self.restart_on_retry:
            try:
                run_id = self.hook.restart(self.batch_name, failed_run)
            except (OFSNotOngoingError, OFSObjectNotFoundError) as error:
                self.log.warning("Cannot restart OFS run %s (%s); triggering a new run", failed_run, error)
            else:
                self._restarted_run = failed_run
                with accepted(run_id, *self.accepted_call()):
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


class _ExistingRunOperator(OFSBatchRunActionOperator):
    """Base of the operators whose call acts on an existing run (restart, rerun): ``batch_run_id`` names it.

    :param batch_name: the run's batch or batch group (templated).
    :param batch_run_id: the run to act on (templated).
    """

    template_fields: Sequence[str] = ("batch_name", "batch_run_id", "ofs_conn_id")

    def __init__(self, *, batch_name: str, batch_run_id: str, **kwargs: Any) -> None:
        super().__init__(batch_name=batch_name, **kwargs)
        self.batch_run_id = batch_run_id
        if not is_template(batch_run_id):
            require_run_id("batch_run_id", batch_run_id)

    def call_subject(self) -> str:
        return f"run {self.batch_run_id} of {self.batch_name}"


class OFSRestartBatchOperator(_ExistingRunOperator):
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

    external_id_key = "ofs_restart_run_id"
    verb = "restart"

    def __init__(self, *, batch_name: str, batch_run_id: str, **kwargs: Any) -> None:
        super().__init__(batch_name=batch_name, batch_run_id=batch_run_id, **kwargs)
        self._restarted_run: str | None = None  # the run this try restarted, once ``act`` chose it

    def act(self, context: Context, previous: ActOnce) -> str:
        """Restart the run (or the previous try's restarted run, when that one failed again)."""
        target = self._restarted_run = previous.failed_run or self.batch_run_id
        if previous.acted_already(target, context, STILL_RUNNING | DONE_WITHOUT_FAILURE):
            return target
        return self.hook.restart(self.batch_name, target)

    def _lineage_details(self) -> dict[str, Any]:
        return {**super()._lineage_details(), "sourceBatchRunId": self._restarted_run or self.batch_run_id}


class OFSRerunBatchOperator(_ExistingRunOperator):
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

    def act(self, context: Context, previous: ActOnce) -> str:
        """Rerun the run, unless a previous try's rerun kept its id and is still going (a rerun never targets a
        previous try's run)."""
        if previous.acted_already(self.batch_run_id, context, STILL_RUNNING):
            return self.batch_run_id
        return self.hook.rerun(self.batch_name, self.batch_run_id)

    def _lineage_details(self) -> dict[str, Any]:
        return {**super()._lineage_details(), "sourceBatchRunId": self.batch_run_id}


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
        super().__init__(**with_ofs_queue(kwargs))
        self.batch_name = batch_name
        self.batch_run_id = batch_run_id
        self.ofs_conn_id = ofs_conn_id
        if not is_template(batch_name):
            require_name("batch_name", batch_name)
        if not is_template(batch_run_id):
            require_run_id("batch_run_id", batch_run_id)

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
