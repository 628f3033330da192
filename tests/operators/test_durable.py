"""Durable retries of ``OFSTriggerBatchOperator`` through Airflow's own ``ResumableJobMixin`` (3.3+).

The task-state store is a dict-backed stand-in with the accessor's ``get``/``set``; the Airflow run
with the real store is ``durable_retry_reconnects`` in test_in_airflow.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_ofs._compat import HAS_TASK_STATE_STORE
from airflow_provider_ofs.arguments import DEFAULT_CONN_ID
from airflow_provider_ofs.exceptions import (
    OFSObjectNotFoundError,
    OFSOutcomeUnknownError,
    OFSRunFailedError,
    OFSRunTimeoutError,
    OFSTaskStateError,
)
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.kept_run import ACTING_MARKER
from airflow_provider_ofs.operators.batch import (
    OFSRerunBatchOperator,
    OFSRestartBatchOperator,
    OFSTriggerBatchOperator,
)
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from airflow_provider_ofs.states import RunState
from tests.operators.task_context import CLEARED, RETRY, TaskInstance, TaskStateStore

pytestmark = pytest.mark.skipif(not HAS_TASK_STATE_STORE, reason="the task-state store arrived in Airflow 3.3")

CATALOGUE = {
    "batches": {
        "FLAKY": {"tasks": [{"code": "STEP", "seconds": 0.1, "outcome": "fail_once"}]},
        "SLOW": {"tasks": [{"code": "LONG", "seconds": 25}]},
        "QUICK": {"tasks": [{"code": "STEP", "seconds": 0.1}]},
    }
}
KEY = OFSTriggerBatchOperator.external_id_key


def kept(run_id: str, batch: str, conn_id: str = DEFAULT_CONN_ID) -> dict[str, str]:
    """What the store keeps once OFS accepted a call: the run and the batch and connection it belongs to."""
    return {"run_id": run_id, "batch_name": batch, "conn_id": conn_id}


@pytest.fixture
def sim(ofs_simulator_factory, monkeypatch):
    simulator = ofs_simulator_factory(CATALOGUE)
    monkeypatch.setenv(CONN_ENV_VAR, simulator.connection_json(retry_wait=0.01))
    return simulator


def failed_run(batch: str) -> str:
    hook = OFSSchedulerHook()
    run_id = hook.trigger(batch)
    while hook.get_status(run_id).state is not RunState.FAILED:
        pass
    return run_id


def operator(batch: str, **kwargs: Any) -> OFSTriggerBatchOperator:
    return OFSTriggerBatchOperator(task_id="t", batch_name=batch, poll_interval=0.02, **kwargs)


def test_first_try_keeps_the_run_id_before_waiting(sim):
    store = TaskStateStore()

    run_id = operator("SLOW").execute({"task_state_store": store})

    assert store.values == {KEY: kept(run_id, "SLOW")}


def test_retry_reconnects_to_a_live_run_instead_of_triggering(sim):
    live = OFSSchedulerHook().trigger("SLOW")

    run_id = operator("SLOW").execute({"task_state_store": TaskStateStore(**{KEY: kept(live, "SLOW")})})

    assert run_id == live
    assert sim.journal.runs_created() == 1


def test_retry_of_a_failed_run_restarts_it_with_restart_on_retry(sim):
    previous = failed_run("FLAKY")
    store = TaskStateStore(**{KEY: kept(previous, "FLAKY")})

    task = operator("FLAKY", restart_on_retry=True)

    run_id = task.execute({"task_state_store": store})

    assert run_id == previous
    assert sim.journal.count("restart") == 1
    assert sim.journal.runs_created() == 1
    assert store.values[KEY] == kept(run_id, "FLAKY")
    facet = task.get_openlineage_facets_on_complete(None).run_facets["ofs_batchRun"]
    assert (facet.action, facet.sourceBatchRunId) == ("restart", previous), "lineage says what this try did"


def test_retry_of_a_failed_run_triggers_a_new_run_by_default(sim):
    previous = failed_run("FLAKY")
    store = TaskStateStore(**{KEY: kept(previous, "FLAKY")})

    with pytest.raises(Exception, match="failed: STEP"):  # a fresh run fails once again
        operator("FLAKY").execute({"task_state_store": store})

    assert sim.journal.count("restart") == 0
    assert sim.journal.runs_created() == 2
    assert store.values[KEY]["run_id"] != previous


def test_retry_with_a_run_id_ofs_no_longer_knows_triggers_a_new_run_and_says_why(sim, capsys, caplog):
    store = TaskStateStore(**{KEY: kept("SLOW_1999-01-01_1_1", "SLOW")})

    run_id = operator("SLOW").execute({"task_state_store": store})

    assert store.values[KEY] == kept(run_id, "SLOW")
    assert run_id != "SLOW_1999-01-01_1_1"
    assert sim.journal.runs_created() == 1
    logged = capsys.readouterr().out + caplog.text
    assert "OFS no longer knows run SLOW_1999-01-01_1_1 of the task's earlier try (code -3" in logged


def test_not_durable_triggers_on_every_try(sim):
    live = OFSSchedulerHook().trigger("SLOW")
    store = TaskStateStore(**{KEY: live})

    run_id = operator("SLOW", durable=False).execute({"task_state_store": store})

    assert run_id != live
    assert store.values == {KEY: live}, "nothing is read or written"


def succeeded_run(batch: str) -> str:
    hook = OFSSchedulerHook()
    run_id = hook.trigger(batch)
    while hook.get_status(run_id).state is not RunState.SUCCESSFUL:
        pass
    return run_id


def test_a_retry_finds_the_previous_run_successful_and_triggers_nothing(sim):
    previous = succeeded_run("QUICK")
    retry, task = TaskInstance(try_number=2, max_tries=2), operator("QUICK", retries=2)

    run_id = task.execute({"task_state_store": TaskStateStore(**{KEY: kept(previous, "QUICK")}), "ti": retry})

    assert run_id == previous
    assert sim.journal.runs_created() == 1
    assert (retry.xcoms["batch_run_id"], retry.xcoms["batch_run_state"]) == (previous, "SUCCESSFUL")
    facet = task.get_openlineage_facets_on_complete(retry).run_facets["ofs_batchRun"]
    assert (facet.batchRunId, facet.state) == (previous, "SUCCESSFUL")


def test_a_cleared_task_whose_run_succeeded_triggers_anew(sim):
    previous = succeeded_run("QUICK")
    store = TaskStateStore(**{KEY: kept(previous, "QUICK")})

    run_id = operator("QUICK", retries=2).execute({"task_state_store": store, "ti": CLEARED})

    assert run_id != previous
    assert store.values[KEY] == kept(run_id, "QUICK")
    assert sim.journal.runs_created() == 2


def test_a_cleared_task_does_not_restart_the_failed_run_but_triggers_anew(sim):
    previous = failed_run("FLAKY")
    store = TaskStateStore(**{KEY: kept(previous, "FLAKY")})

    with pytest.raises(OFSRunFailedError):  # a fresh run of FLAKY fails once again
        operator("FLAKY", retries=2, restart_on_retry=True).execute({"task_state_store": store, "ti": CLEARED})

    assert store.values[KEY]["run_id"] != previous
    assert sim.journal.count("restart") == 0
    assert sim.journal.runs_created() == 2


def test_a_cleared_task_whose_run_is_still_going_watches_it_rather_than_starting_another(sim):
    live = OFSSchedulerHook().trigger("SLOW", held_tasks="LONG")  # stays held until released

    op = operator("SLOW", retries=2, timeout=0.3, interrupt_on_kill=False)
    with pytest.raises(OFSRunTimeoutError):
        op.execute({"task_state_store": TaskStateStore(**{KEY: kept(live, "SLOW")}), "ti": CLEARED})

    assert op.watched_run_id == live
    assert sim.journal.runs_created() == 1


def restart_operator(run_id: str, **kwargs: Any) -> OFSRestartBatchOperator:
    return OFSRestartBatchOperator(task_id="r", batch_name="FLAKY", batch_run_id=run_id, poll_interval=0.02, **kwargs)


def test_restart_keeps_the_run_it_produced_and_a_retry_watches_it_instead_of_restarting(sim):
    failed = failed_run("FLAKY")
    store = TaskStateStore()

    first = restart_operator(failed, retries=2).execute({"task_state_store": store, "ti": TaskInstance(1, 2)})
    again = restart_operator(failed, retries=2).execute({"task_state_store": store, "ti": RETRY})

    assert store.values == {OFSRestartBatchOperator.external_id_key: kept(first, "FLAKY")}
    assert again == first
    assert sim.journal.count("restart") == 1


def test_rerun_keeps_the_run_it_produced_and_a_retry_watches_it_instead_of_rerunning(sim):
    done = succeeded_run("QUICK")
    store = TaskStateStore()
    rerun = OFSRerunBatchOperator(task_id="r", batch_name="QUICK", batch_run_id=done, poll_interval=0.02, retries=2)

    first = rerun.execute({"task_state_store": store, "ti": TaskInstance(1, 2)})
    again = rerun.execute({"task_state_store": store, "ti": RETRY})
    cleared = rerun.execute({"task_state_store": store, "ti": CLEARED})

    assert store.values[OFSRerunBatchOperator.external_id_key] == kept(cleared, "QUICK")
    assert again == first
    assert sim.journal.count("rerun") == 2, "the retry watched; the clear reran"


def test_the_store_holds_an_intent_marker_while_the_trigger_call_is_out(sim):
    seen: list[Any] = []
    store = TaskStateStore()
    op = operator("QUICK", retries=2)
    real_trigger = op.hook.trigger

    def trigger_while_looking_at_the_store(*args: Any, **kwargs: Any) -> str:
        seen.append(store.values.get(KEY))
        return real_trigger(*args, **kwargs)

    op.hook.trigger = trigger_while_looking_at_the_store  # type: ignore[method-assign]
    run_id = op.execute({"task_state_store": store, "ti": TaskInstance(1, 2)})

    assert len(seen) == 1
    assert str(seen[0]).startswith(ACTING_MARKER)
    assert store.values == {KEY: kept(run_id, "QUICK")}


def test_the_store_holds_an_intent_marker_while_an_automatic_restart_is_out(sim):
    seen: list[Any] = []
    store = TaskStateStore()
    op = operator("FLAKY", retries=2, max_restarts=1)
    real_restart = op.hook.restart

    def restart_while_looking_at_the_store(*args: Any, **kwargs: Any) -> str:
        seen.append(store.values.get(KEY))
        return real_restart(*args, **kwargs)

    op.hook.restart = restart_while_looking_at_the_store  # type: ignore[method-assign]
    run_id = op.execute({"task_state_store": store, "ti": TaskInstance(1, 2)})

    assert len(seen) == 1
    assert str(seen[0]).startswith(ACTING_MARKER), "a worker lost during the restart would leave a failed run kept"
    assert store.values == {KEY: kept(run_id, "FLAKY")}
    assert sim.journal.count("restart") == 1


def test_a_retry_after_a_try_lost_while_its_trigger_was_out_fails_at_once_and_triggers_nothing(sim):
    store = TaskStateStore(**{KEY: f"{ACTING_MARKER}1790000000.000"})  # what a killed worker leaves

    with pytest.raises(OFSOutcomeUnknownError, match="sent at 2026-09-21 14:13:20 UTC") as raised:
        operator("QUICK", retries=2).execute({"task_state_store": store, "ti": RETRY})

    assert isinstance(raised.value, AirflowFailException)
    assert "Look in the OFS Batch Monitor for a run of QUICK" in str(raised.value)
    assert sim.journal.count("trigger") == 0


def test_a_clear_after_a_try_lost_while_its_trigger_was_out_triggers_anew(sim):
    store = TaskStateStore(**{KEY: f"{ACTING_MARKER}1790000000.000"})

    run_id = operator("QUICK", retries=2).execute({"task_state_store": store, "ti": CLEARED})

    assert store.values == {KEY: kept(run_id, "QUICK")}
    assert sim.journal.runs_created() == 1


def test_a_call_that_certainly_did_nothing_leaves_no_marker_behind(sim):
    store = TaskStateStore()

    with pytest.raises(OFSObjectNotFoundError):
        operator("NO_SUCH_BATCH", retries=2).execute({"task_state_store": store, "ti": TaskInstance(1, 2)})

    assert store.values == {}


# ------------------------------------------------------------------- what the store keeps is checked before use


def test_a_retry_does_not_take_another_batchs_run_for_its_own(sim):
    other = succeeded_run("QUICK")  # a run of QUICK ...
    store = TaskStateStore(**{KEY: kept(other, "QUICK")})
    task = operator("FLAKY", retries=2)  # ... kept for a task that now runs FLAKY

    with pytest.raises(OFSTaskStateError) as raised:
        task.execute({"task_state_store": store, "ti": RETRY})

    message = str(raised.value)
    assert f"keeps OFS run {other} (batch 'QUICK', not 'FLAKY')" in message
    assert "clear this task to trigger FLAKY anew" in message
    assert isinstance(raised.value, AirflowFailException)
    assert sim.journal.count("trigger") == 1, "only the test's own trigger: the retry triggered nothing"
    assert task.watched_run_id is None, "the other batch's run was not taken for this task's"


def test_a_retry_does_not_restart_another_batchs_failed_run(sim):
    other = failed_run("FLAKY")
    store = TaskStateStore(**{KEY: kept(other, "FLAKY")})

    with pytest.raises(OFSTaskStateError, match="batch 'FLAKY', not 'QUICK'"):
        operator("QUICK", retries=2, restart_on_retry=True).execute({"task_state_store": store, "ti": RETRY})

    assert sim.journal.count("restart") == 0
    assert sim.journal.count("trigger") == 1


def test_a_retry_does_not_take_a_run_kept_for_another_connection(sim):
    live = OFSSchedulerHook().trigger("SLOW")
    store = TaskStateStore(**{KEY: kept(live, "SLOW", conn_id="ofs_other_tenant")})

    with pytest.raises(OFSTaskStateError, match="connection 'ofs_other_tenant', not 'ofs_scheduler_default'"):
        operator("SLOW", retries=2).execute({"task_state_store": store, "ti": RETRY})

    assert sim.journal.count("status") == 0, "not even asked about: it is not this task's run"


def test_a_cleared_task_ignores_another_batchs_run_and_triggers_its_own(sim):
    live = OFSSchedulerHook().trigger("SLOW")
    store = TaskStateStore(**{KEY: kept(live, "SLOW")})

    run_id = operator("QUICK", retries=2).execute({"task_state_store": store, "ti": CLEARED})

    assert run_id != live
    assert store.values[KEY] == kept(run_id, "QUICK")


@pytest.mark.parametrize(
    "value",
    [
        "   ",
        "RUN\nFORGED",
        "R" * 300,
        17,
        ["RUN"],
        {"run_id": "RUN"},
        {"run_id": " ", "batch_name": "QUICK", "conn_id": ""},
    ],
    ids=["blank", "line-break", "too-long", "number", "list", "object-without-batch", "object-with-a-blank-run-id"],
)
def test_a_value_the_retry_cannot_read_fails_saying_what_to_do(sim, value):
    store = TaskStateStore(**{KEY: value})

    with pytest.raises(OFSTaskStateError) as raised:
        operator("QUICK", retries=2).execute({"task_state_store": store, "ti": RETRY})

    message = str(raised.value)
    assert "neither a run nor an intent marker" in message
    assert "clear this task to trigger anew (a clear ignores the value)" in message
    assert message.isprintable()
    assert len(sim.journal) == 0, "nothing was sent"


@pytest.mark.parametrize(
    "marker", [f"{ACTING_MARKER}garbage", f"{ACTING_MARKER}", f"{ACTING_MARKER}nan", f"{ACTING_MARKER}1e300"]
)
def test_an_intent_marker_without_a_readable_time_still_fails_the_retry_saying_what_to_do(sim, marker):
    store = TaskStateStore(**{KEY: marker})

    with pytest.raises(OFSOutcomeUnknownError) as raised:
        operator("QUICK", retries=2).execute({"task_state_store": store, "ti": RETRY})

    assert "at a time its intent marker does not say" in str(raised.value)
    assert "Look in the OFS Batch Monitor for a run of QUICK" in str(raised.value)
    assert len(sim.journal) == 0


@pytest.mark.parametrize("value", ["   ", f"{ACTING_MARKER}garbage", {"run_id": 17}])
def test_a_cleared_task_ignores_a_value_it_cannot_read_and_triggers_anew(sim, value):
    store = TaskStateStore(**{KEY: value})

    run_id = operator("QUICK", retries=2).execute({"task_state_store": store, "ti": CLEARED})

    assert store.values[KEY] == kept(run_id, "QUICK")
    assert sim.journal.runs_created() == 1


def test_a_retry_after_an_upgrade_does_not_take_a_bare_run_id_for_its_own(sim):
    live = OFSSchedulerHook().trigger("SLOW")  # another batch's run, for all a bare id tells

    with pytest.raises(OFSTaskStateError, match=r"a bare run id, the form version 0\.1 kept") as raised:
        operator("QUICK", retries=2).execute({"task_state_store": TaskStateStore(**{KEY: live}), "ti": RETRY})

    assert "clear this task to trigger anew" in str(raised.value)
    assert sim.journal.runs_created() == 1
    assert sim.journal.count("status") == 0


class DagRun:
    """``context["dag_run"]``: how many times a person cleared it (Airflow counts every clear of its tasks)."""

    def __init__(self, clear_number: int) -> None:
        self.clear_number = clear_number


def test_a_retry_after_retries_was_lowered_in_the_dag_file_returns_the_run_that_succeeded(sim):
    done = succeeded_run("QUICK")
    store = TaskStateStore(**{KEY: {**kept(done, "QUICK"), "round": [0, 3]}})  # kept by try 1, retries=3
    retry = TaskInstance(try_number=2, max_tries=3)  # Airflow retries as it stored: max_tries stays 3

    run_id = operator("QUICK", retries=1).execute(  # the DAG file now says retries=1
        {"task_state_store": store, "ti": retry, "dag_run": DagRun(0)}
    )

    assert run_id == done
    assert sim.journal.runs_created() == 1, "the retry started no second run"


@pytest.mark.parametrize(
    ("clear_number", "max_tries"),
    [(1, 3), (0, 4)],
    ids=["cleared-and-counted", "cleared-through-the-api-without-resetting-the-dag-run"],
)
def test_a_try_in_another_round_than_the_kept_run_is_a_clear_and_triggers_anew(sim, clear_number, max_tries):
    done = succeeded_run("QUICK")
    store = TaskStateStore(**{KEY: {**kept(done, "QUICK"), "round": [0, 3]}})
    again = TaskInstance(try_number=2, max_tries=max_tries)

    run_id = operator("QUICK", retries=3).execute(
        {"task_state_store": store, "ti": again, "dag_run": DagRun(clear_number)}
    )

    assert run_id != done
    assert sim.journal.runs_created() == 2
    assert store.values[KEY] == {**kept(run_id, "QUICK"), "round": [clear_number, max_tries]}
