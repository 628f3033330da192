"""Act once across Airflow's tries: a trigger, restart or rerun OFS accepted is never sent again by a retry.

The rules of ``OFSBatchRunActionOperator`` (``operators.batch``), whatever the operator asks OFS:

- On Airflow 3.3+ (``durable``, the default there) the run is kept in the task-state store (``RunKeeper``)
  before waiting. An Airflow retry reconnects to that run while it is going, returns at once when it
  succeeded, and acts again only when it failed. A clear (a new round of tries asked for by a person)
  acts again, unless the run is still going: then it is watched, never started twice.
- While the call is out the store holds an intent marker; a retry that finds it fails with
  ``OFSOutcomeUnknownError`` instead of acting again (the window Airflow's ``ResumableJobMixin`` documents).
- Once OFS accepted a call, anything failing before the run is kept fails the task without retry (``accepted``).
- On older Airflow, or with ``durable=False``, a retry cannot find the run again: it reads the target run's
  state first (``ActOnce.acted_already``), and a failure while waiting fails without retry.

``ActOnce`` is one try's side of these rules; the operator hands Airflow's mixin calls to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from airflow_provider_ofs._compat import HAS_TASK_STATE_STORE, is_airflow_retry
from airflow_provider_ofs.exceptions import OFSObjectNotFoundError, OFSOutcomeUnknownError, OFSTaskStateError
from airflow_provider_ofs.kept_run import CallOut, KeptRun, Round, Unreadable, intent_marker, read_kept, run_id_of
from airflow_provider_ofs.published import RunOutcome, push_outcome
from airflow_provider_ofs.states import DONE_WITHOUT_FAILURE, STILL_RUNNING

if TYPE_CHECKING:
    from airflow_provider_ofs._compat import Context
    from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
    from airflow_provider_ofs.recovery import OFSRecovery
    from airflow_provider_ofs.states import RunState, RunStatus


@dataclass(frozen=True)
class RunKeeper:
    """Where an action operator keeps the run it watches, so that a retry of the task reconnects to it.

    :param key: the task-state store key (the operator's ``external_id_key``).
    :param durable: keep the run (the operator's ``durable``; always ``False`` before Airflow 3.3).
    :param requested: ``durable`` was asked for, or left to its default (said once where Airflow cannot).
    """

    key: str
    durable: bool
    requested: bool = False

    def store(self, context: Context) -> Any:
        """The task-state store to keep the run in; ``None`` when not durable, or Airflow has none."""
        return context.get("task_state_store") if self.durable else None

    def reconnects(self, context: Context) -> bool:
        """Whether an Airflow retry of this task would find the run again (durable, with a task-state store)."""
        return self.store(context) is not None

    def keep(self, context: Context, run_id: str, batch_name: str, conn_id: str) -> None:
        """Keep ``run_id`` (of ``batch_name`` on ``conn_id``) for a retry to reconnect to, when durable."""
        store = self.store(context)
        if store is not None:
            round_ = Round.of(context.get("ti"), context.get("dag_run"))
            store.set(self.key, KeptRun(run_id, batch_name, conn_id, round_).value())


@contextmanager
def accepted(run_id: str, verb: str, subject: str) -> Iterator[None]:
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


def call_marked(keeper: RunKeeper | None, context: Context, round_: Round | None, call: Callable[[], str]) -> str:
    """Make ``call`` (a trigger, restart or rerun) with the intent marker in the store while it is out; its run id.

    A retry that finds the marker fails with ``OFSOutcomeUnknownError`` instead of calling again. A call that
    certainly did nothing (it raised anything but ``OFSOutcomeUnknownError``) puts the previous value back; the
    caller keeps the run OFS accepted (``RunKeeper.keep``), which replaces the marker. Without a store: the call.
    """
    store = keeper.store(context) if keeper is not None else None
    if store is None:
        return call()
    assert keeper is not None
    previous = store.get(keeper.key)
    store.set(keeper.key, intent_marker(time.time(), round_))
    try:
        return call()
    except OFSOutcomeUnknownError:
        raise
    except BaseException:
        if previous is None:
            store.delete(keeper.key)
        else:
            store.set(keeper.key, previous)
        raise


def is_active(status: str) -> bool:
    """A kept run's state name that means "reconnect to it": not started, ongoing or held."""
    return status in {state.name for state in STILL_RUNNING}


def is_succeeded(status: str) -> bool:
    """A kept run's state name that means "nothing left to do": successful (or excluded as a whole)."""
    return status in {state.name for state in DONE_WITHOUT_FAILURE}


class ActingTask(Protocol):
    """What ``ActOnce`` uses of the operator it serves: its call, its identity, and its wait."""

    batch_name: str
    ofs_conn_id: str
    retries: int | None
    verb: str
    watched_run_id: str | None
    recovery: OFSRecovery | None

    @property
    def hook(self) -> OFSSchedulerHook: ...

    @property
    def log(self) -> Any: ...

    def act(self, context: Context, previous: ActOnce) -> str: ...

    def ask_about(self, run_id: str, status: RunStatus, context: Context) -> NoReturn: ...

    def call_subject(self) -> str: ...

    def accepted_call(self) -> tuple[str, str]: ...

    def publish(self, run_id: str, context: Context) -> None: ...

    def watch(self, run_id: str, context: Context) -> str: ...


class ActOnce:
    """One try of an action operator under the act-once rules (see the module): Airflow's ``ResumableJobMixin``
    calls reach the operator, which hands them here.

    :param task: the operator; its ``act`` makes the call, its ``watch`` waits for the run.
    :param keeper: where the operator keeps its run (``RunKeeper``).
    :param context: the try's context (its task instance tells a retry from a clear).
    """

    def __init__(self, task: ActingTask, keeper: RunKeeper, context: Context) -> None:
        self.task = task
        self.keeper = keeper
        #: This try's round (``kept_run.Round``); ``None`` where Airflow does not say.
        self.round = Round.of(context.get("ti"), context.get("dag_run"))
        #: Whether this try is a retry, as far as Airflow's try numbers tell without a kept round.
        self.retrying = is_airflow_retry(context.get("ti"), task.retries)
        #: The run a previous try kept, when it failed: a retry may restart it instead of acting anew.
        self.failed_run: str | None = None
        self.status_of_previous_try: RunStatus | None = None
        if keeper.requested and not HAS_TASK_STATE_STORE:
            task.log.info("Airflow before 3.3 has no task-state store: a retry cannot reconnect to the OFS run")

    def acted_already(self, run_id: str, context: Context, settled: frozenset[RunState]) -> bool:
        """On a retry that cannot reconnect (older Airflow): whether ``run_id`` shows a previous try acted already.

        Asked by ``act`` before acting again; ``settled`` lists the states that mean "acted, do not act twice".
        """
        if not self.retrying or self.keeper.reconnects(context):
            return False
        state = self.task.hook.get_status(run_id).state
        if state not in settled:
            return False
        self.task.log.info("Retry: OFS run %s is %s already; watching it instead of acting again", run_id, state.name)
        return True

    # ------------------------------------------------------------------- ResumableJobMixin contract

    def submit(self, context: Context) -> dict[str, Any]:
        """``submit_job``: act (the operator's ``act``), with an intent marker in the store while the call is out.

        The mixin records what this returns only after it returned; a worker lost in between would leave a retry
        with nothing to reconnect to. So the store holds ``ACTING_MARKER`` + the time while the call is out, and
        a retry that finds it fails with ``OFSOutcomeUnknownError`` instead of acting again. A call that
        certainly did nothing (it raised anything but ``OFSOutcomeUnknownError``) puts the previous value back.
        Once OFS accepted the call, the run is kept here (``_keep_accepted``) and returned as the store keeps it.
        With ``recovery`` set, a retry that found the previous try's run failed asks a person instead of acting.
        """
        if self.failed_run is not None and self.status_of_previous_try is not None and self.task.recovery is not None:
            self.task.ask_about(self.failed_run, self.status_of_previous_try, context)  # a person decides: no return
        run_id = call_marked(self.keeper, context, self.round, lambda: self.task.act(context, self))
        return self._keep_accepted(run_id, context, self.keeper.store(context))

    def _keep_accepted(self, run_id: str, context: Context, store: Any) -> dict[str, Any]:
        """Keep the run OFS accepted: in the store (its batch and connection with it), then in XCom.

        Anything failing here fails the task without retry (``accepted``), leaving the intent marker in the store.
        """
        kept = KeptRun(run_id, self.task.batch_name, self.task.ofs_conn_id, self.round).value()
        with accepted(run_id, *self.task.accepted_call()):
            if store is not None:
                store.set(self.keeper.key, kept)
            self.task.publish(run_id, context)
        return kept

    def status(self, external_id: Any, context: Context) -> str:
        """``get_job_status``: the kept run's state name; ``NOT_FOUND`` when OFS no longer knows it, ``CLEARED``
        after a clear.

        What the store keeps is read by ``_kept_run`` first: on a retry, an intent marker left by a try that was
        lost while its call was out fails with ``OFSOutcomeUnknownError``, and an unreadable value or another
        batch's or connection's run with ``OFSTaskStateError``; after a clear, a person asked for a new run, and
        it acts anew.
        """
        kept = self._kept_run(external_id)
        if kept is None:
            return "CLEARED"
        run_id = kept.run_id
        retrying = self._retry_of(kept.round)
        try:
            status = self.task.hook.get_status(run_id)
        except OFSObjectNotFoundError as error:
            self.task.log.warning(
                "OFS no longer knows run %s of the task's earlier try (code %s: Object does not exist); "
                "starting a new run",
                run_id,
                error.code,
            )
            return "NOT_FOUND"
        self.status_of_previous_try = status
        state = status.state
        if state in STILL_RUNNING:
            if not retrying:
                self.task.log.warning(
                    "The task was cleared while OFS run %s is still %s: watching it rather than starting another",
                    run_id,
                    state.name,
                )
            return state.name
        if not retrying:
            self.task.log.info(
                "The task was cleared: OFS run %s of its earlier tries ended %s; acting anew", run_id, state.name
            )
            return "CLEARED"
        if state.is_failure:
            self.failed_run = run_id
        return state.name

    def watch(self, external_id: Any, context: Context) -> str:
        """``poll_until_complete``: wait for the run (or defer); return the id that ended well (a restart may
        replace the first).

        Returned because the mixin's reconnect path returns what this returns, not ``get_job_result``.
        """
        return self.task.watch(run_id_of(external_id), context)

    def result(self, external_id: Any, context: Context) -> str:
        """``get_job_result``: the run id to return, the last one watched (a restart may have replaced the first)."""
        if self.task.watched_run_id is None:  # the previous try's run had already succeeded
            self.task.publish(run_id_of(external_id), context)
            status = self.status_of_previous_try
            if status is not None:
                push_outcome(self.task, context, RunOutcome.of(status, status.state))
        return self.task.watched_run_id or run_id_of(external_id)

    def _retry_of(self, kept_round: Round | None) -> bool:
        """Whether this try is a retry in the round of tries that kept ``kept_round``, not a new round after a clear.

        Told by the rounds Airflow stored (``kept_run.Round``) when both are known; otherwise by the try numbers.
        """
        if kept_round is not None and self.round is not None:
            return kept_round == self.round
        return self.retrying

    # ------------------------------------------------------------------------ what a retry refuses

    def _kept_run(self, value: Any) -> KeptRun | None:
        """The run the store keeps, when this try may act on it; ``None`` when it acts anew (after a clear)."""
        kept = read_kept(value)
        if isinstance(kept, KeptRun):
            difference = kept.foreign_to(self.task.batch_name, self.task.ofs_conn_id)
            if difference is None:
                return kept
            error: Exception = self._foreign_run_error(kept, difference)
        elif isinstance(kept, CallOut):
            error = self._lost_call_error(kept.sent_at)
        else:
            error = self._unreadable_error(value, kept)
        if self._retry_of(None if isinstance(kept, Unreadable) else kept.round):
            raise error
        self.task.log.warning(
            "The task was cleared, so it acts anew and ignores what its earlier tries kept: %s", error
        )
        return None

    def _lost_call_error(self, sent_at: float | None) -> Exception:
        """A previous try was lost while its call was out: the call may have acted, and nobody recorded it.

        ``sent_at`` is ``None`` when the intent marker's time cannot be read.
        """
        from airflow_provider_ofs.protocol import outcome_unknown, utc_text  # where a task runs, not at parse time

        verb = self.task.verb
        when = f"sent at {utc_text(sent_at)} UTC" if sent_at is not None else "at a time its intent marker does not say"
        happened = (
            f"A previous try of this task was lost while its {verb} call was out ({when}), before OFS's answer "
            f"was recorded"
        )
        return outcome_unknown(
            verb, self.task.call_subject(), happened, None if sent_at is None else (sent_at, time.time())
        )

    def _foreign_run_error(self, kept: KeptRun, difference: str) -> OFSTaskStateError:
        """The store keeps another batch's or connection's run (the DAG or a template changed between tries)."""
        return OFSTaskStateError(
            f"The task-state store of this task keeps OFS run {kept.run_id} ({difference}) under "
            f"{self.keeper.key!r}: an earlier try ran with another batch or connection. This retry neither "
            f"takes that run for its own nor acts again, since the earlier try's run may still be going. Look at run "
            f"{kept.run_id} in the OFS Batch Monitor, then clear this task to {self.task.verb} "
            f"{self.task.call_subject()} anew (a clear ignores the kept run)."
        )

    def _unreadable_error(self, value: Any, unreadable: Unreadable) -> OFSTaskStateError:
        """The store keeps a value that is neither a run nor an intent marker."""
        from airflow_provider_ofs.protocol import quote_value  # where a task runs, not at parse time

        return OFSTaskStateError(
            f"The task-state store of this task keeps {quote_value(value)} under {self.keeper.key!r}, which is "
            f"neither a run nor an intent marker: {unreadable.reason}. An earlier try may have acted, so this retry "
            f"does not. Look in the OFS Batch Monitor for a run of {self.task.call_subject()} from this task's "
            f"earlier tries, then clear this task to {self.task.verb} anew (a clear ignores the value)."
        )
