"""``OFSSchedulerHook`` against the simulator over loopback: every verb, and every documented error code."""

from __future__ import annotations

import json
import urllib.request

import pytest

from airflow_provider_ofs.arguments import encode_dynamic_params
from airflow_provider_ofs.exceptions import (
    OFSInvalidArgumentsError,
    OFSInvalidHeadersError,
    OFSNoExecutableJobError,
    OFSNotOngoingError,
    OFSObjectNotFoundError,
)
from airflow_provider_ofs.states import RunState
from tests.hook.conftest import CATALOGUE, both_editions, wait_until_finished


@both_editions
def test_trigger_returns_the_run_id_the_simulator_created(sim, connect):
    hook = connect(sim)

    run_id = hook.trigger("QUICK")

    assert sim.get_run(run_id).name == "QUICK"
    assert sim.journal.runs_created() == 1


def test_status_reports_task_states_until_the_run_succeeds(sim, connect):
    hook = connect(sim)
    run_id = hook.trigger("QUICK")

    status = wait_until_finished(hook, run_id)

    assert status.run_id == run_id
    assert status.state is RunState.SUCCESSFUL
    assert [(task.task_code, task.state) for task in status.tasks] == [
        ("Q1", RunState.SUCCESSFUL),
        ("Q2", RunState.SUCCESSFUL),
    ]


def test_status_can_be_limited_to_some_tasks(sim, connect):
    hook = connect(sim)
    run_id = hook.trigger("QUICK")

    status = hook.get_status(run_id, tasks=["Q2"])

    assert [task.task_code for task in status.tasks] == ["Q2"]


def test_failed_run_is_reported_by_a_successful_status_call(sim, connect):
    hook = connect(sim)
    run_id = hook.trigger("FAILS_ONCE")

    status = wait_until_finished(hook, run_id)

    assert status.state is RunState.FAILED
    assert status.failed_tasks == ["F2"]


@both_editions
def test_group_trigger_with_dynamic_params_reaches_every_child_batch(sim, connect):
    hook = connect(sim)
    params = encode_dynamic_params(
        "group",
        mis_date="2024-03-31",
        group_params={"QUICK": {"batchParams": {"REGION": "EU"}}, "FAILS_ONCE": {"batchParams": {}}},
    )

    run_id = hook.trigger("GRP", batch_type="group", dynamic_params=params)

    assert sim.get_run(run_id).kind == "group"
    assert sim.get_run(run_id).mis_date == "2024-03-31"
    status = wait_until_finished(hook, run_id)
    assert status.tasks == []
    assert len(status.children) == 2
    assert status.state is RunState.FAILED
    assert len(status.failed_tasks) == 1


@both_editions
def test_batch_trigger_sends_mis_date_and_params(sim, connect):
    hook = connect(sim)
    params = encode_dynamic_params(
        "batch", mis_date="2024-03-31", batch_params={"REGION": "EU"}, task_params={"Q1": {"mode": "full"}}
    )

    run_id = hook.trigger("QUICK", dynamic_params=params)

    run = sim.get_run(run_id)
    assert run.mis_date == "2024-03-31"
    assert run.params["batchParams"] == {"REGION": "EU", "$FICMISDATE$": "2024-03-31"}
    assert run.params["taskRuntimeParams"] == {"Q1": {"mode": "full"}}


@both_editions
def test_batch_trigger_takes_the_wire_shape_as_a_mapping(sim, connect):
    hook = connect(sim)

    run_id = hook.trigger(
        "QUICK",
        dynamic_params={"batchParams": {"$FICMISDATE$": "2026-03-31"}, "taskRuntimeParams": {"Q1": {"mode": "full"}}},
    )

    run = sim.get_run(run_id)
    assert run.mis_date == "2026-03-31"
    assert run.params == {"batchParams": {"$FICMISDATE$": "2026-03-31"}, "taskRuntimeParams": {"Q1": {"mode": "full"}}}


@both_editions
def test_group_trigger_takes_batch_code_to_wire_shape_as_a_mapping(sim, connect):
    hook = connect(sim)

    run_id = hook.trigger(
        "GRP",
        batch_type="group",
        dynamic_params={"QUICK": {"batchParams": {"$FICMISDATE$": "2026-03-31"}}, "FAILS_ONCE": {}},
    )

    assert sim.get_run(run_id).mis_date == "2026-03-31"


@both_editions
@pytest.mark.parametrize("dynamic_params", [["batchParams"], 42, b'{"batchParams": {}}', {"batchParms": {}}])
def test_trigger_with_dynamic_params_of_another_shape_fails_before_anything_is_sent(sim, connect, dynamic_params):
    hook = connect(sim)

    with pytest.raises((TypeError, ValueError), match="dynamic_params"):
        hook.trigger("QUICK", dynamic_params=dynamic_params)

    assert sim.journal.count("trigger") == 0


@both_editions
def test_excluded_and_held_tasks_reach_the_run(sim, connect):
    hook = connect(sim)

    run_id = hook.trigger("QUICK", excluded_tasks=["Q1"], held_tasks="Q2")

    status = hook.get_status(run_id)
    states = {task.task_code: task.state for task in status.tasks}
    assert states["Q1"] is RunState.EXCLUDED
    assert states["Q2"] is RunState.HELD
    assert status.held_tasks == ["Q2"]
    assert not status.state.is_terminal


def test_interrupt_stops_an_ongoing_run(sim, connect):
    hook = connect(sim)
    run_id = hook.trigger("LONG")

    hook.interrupt("LONG", run_id)

    assert hook.get_status(run_id).state is RunState.INTERRUPTED


def test_interrupt_of_an_interrupted_run_is_idempotent(sim, connect, logs):
    hook = connect(sim)
    run_id = hook.trigger("LONG")
    hook.interrupt("LONG", run_id)

    hook.interrupt("LONG", run_id)  # ESI answers -7: counts as done

    assert sim.journal.entries("interrupt")[-1].api_status_code == "-7"
    assert any("already interrupted" in message and run_id in message for message in logs.messages())


def test_restart_of_a_failed_run_returns_the_run_to_watch_and_it_succeeds(sim, connect):
    hook = connect(sim)
    run_id = hook.trigger("FAILS_ONCE")
    assert wait_until_finished(hook, run_id).state is RunState.FAILED

    watched = hook.restart("FAILS_ONCE", run_id)

    assert wait_until_finished(hook, watched).state is RunState.SUCCESSFUL


def test_rerun_of_a_completed_run_returns_the_new_run_to_watch(sim, connect):
    hook = connect(sim)
    run_id = hook.trigger("QUICK")
    wait_until_finished(hook, run_id)

    watched = hook.rerun("QUICK", run_id)

    assert sim.get_run(watched).name == "QUICK"
    assert wait_until_finished(hook, watched).state is RunState.SUCCESSFUL
    assert sim.journal.runs_created() == 2


def test_hook_works_under_a_base_path_prefix(ofs_simulator_factory, connect):
    simulator = ofs_simulator_factory(CATALOGUE, path_prefix="/ofsa/app")
    hook = connect(simulator)

    run_id = hook.trigger("QUICK")

    assert hook.settings.base_url.endswith("/ofsa/app")
    assert hook.get_status(run_id).run_id == run_id


# --------------------------------------------------------------------------------------- documented codes


def test_status_of_an_unknown_run_is_object_not_found(sim, connect):
    hook = connect(sim)

    with pytest.raises(OFSObjectNotFoundError) as raised:
        hook.get_status("NO_SUCH_RUN")

    assert raised.value.code == -3
    assert "Object does not exist" in str(raised.value)
    assert "NO_SUCH_RUN" in str(raised.value)


def test_trigger_of_an_unknown_batch_is_object_not_found(sim, connect):
    with pytest.raises(OFSObjectNotFoundError, match="NO_SUCH_BATCH"):
        connect(sim).trigger("NO_SUCH_BATCH")
    assert sim.journal.runs_created() == 0


def test_trigger_of_a_group_as_a_batch_is_object_not_found(sim, connect):
    with pytest.raises(OFSObjectNotFoundError):
        connect(sim).trigger("GRP")


def test_a_task_both_excluded_and_held_is_invalid_arguments(sim, connect):
    with pytest.raises(OFSInvalidArgumentsError) as raised:
        connect(sim).trigger("QUICK", excluded_tasks=["Q1"], held_tasks=["Q1"])

    assert raised.value.code == -4
    assert "Invalid arguments" in str(raised.value)


def test_wrong_tenant_header_is_invalid_headers(sim, connect):
    hook = connect(sim, tenant_id="SOME_OTHER_TENANT")

    with pytest.raises(OFSInvalidHeadersError) as raised:
        hook.trigger("QUICK")

    assert raised.value.code == -5
    assert "ofs_tenant_id" in str(raised.value)
    assert sim.journal.runs_created() == 0


def test_all_tasks_excluded_is_no_executable_job(sim, connect):
    with pytest.raises(OFSNoExecutableJobError) as raised:
        connect(sim).trigger("QUICK", excluded_tasks="Q1,Q2")

    assert raised.value.code == -6
    assert "No executable job" in str(raised.value)


def test_restart_of_an_ongoing_run_is_not_ongoing_error_with_the_meaning(sim, connect):
    hook = connect(sim)
    run_id = hook.trigger("LONG")

    with pytest.raises(OFSNotOngoingError) as raised:
        hook.restart("LONG", run_id)

    assert raised.value.code == -8
    assert "Job is not ongoing/aborted" in str(raised.value)
    assert run_id in str(raised.value)


def test_interrupt_of_a_finished_run_is_not_ongoing_error(sim, connect):
    hook = connect(sim)
    run_id = hook.trigger("QUICK")
    wait_until_finished(hook, run_id)

    with pytest.raises(OFSNotOngoingError, match="-8"):
        hook.interrupt("QUICK", run_id)


def test_api_error_is_not_retried(sim, connect):
    with pytest.raises(OFSObjectNotFoundError):
        connect(sim).get_status("NO_SUCH_RUN")

    assert sim.journal.count("status") == 1


def test_api_error_is_raised_without_a_cause_loop(sim, connect):
    with pytest.raises(OFSObjectNotFoundError) as raised:
        connect(sim).get_status("NO_SUCH_RUN")

    assert raised.value.__cause__ is not raised.value


def test_invalid_arguments_are_refused_before_anything_is_sent(sim, connect):
    hook = connect(sim)

    with pytest.raises(ValueError, match="batch_type"):
        hook.trigger("QUICK", batch_type="rest")

    assert sim.journal.count("trigger") == 0


def test_the_simulators_connection_links_each_run_to_its_own_picture_of_it(sim, connect):
    hook = connect(sim)
    run_id = hook.trigger("QUICK")

    with urllib.request.urlopen(hook.monitor_url(run_id, "QUICK"), timeout=10) as page:
        shown = json.load(page)

    assert shown["batchRunId"] == run_id
