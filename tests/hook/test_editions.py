"""Issue 17 against the simulator: dynamic_params_format, includedTasks, the remote user, refresh scopes, status
texts in failure messages, ``tasks`` on a group run, and one token request for many watchers while IAM throttles."""

from __future__ import annotations

import asyncio

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_ofs.exceptions import (
    OFSCallFailedError,
    OFSConnectionConfigError,
    OFSInvalidArgumentsError,
    OFSInvalidHeadersError,
    OFSRunFailedError,
    OFSTasksOfGroupError,
)
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.operators.batch import OFSTriggerBatchOperator
from airflow_provider_ofs.sensors.batch import OFSBatchRunSensor
from airflow_provider_ofs.simulator import SimulatorCredentials
from airflow_provider_ofs.states import RunState
from airflow_provider_ofs.triggers.batch import OFSBatchRunTrigger
from tests.hook.conftest import CATALOGUE, both_editions, run_on_loop, wait_until_finished
from tests.operators.test_retry_safety import TaskInstance

# ------------------------------------------------------------------------------------- dynamic_params_format


def test_a_bad_dynamic_params_format_names_the_field(sim, connect):
    hook = connect(sim, dynamic_params_format="json")

    with pytest.raises(OFSConnectionConfigError, match=r"'dynamic_params_format' must be 'string' .* or 'object'"):
        hook.trigger("QUICK")

    assert sim.journal.count("trigger") == 0


@pytest.mark.parametrize(("edition", "connection_says"), [("string", "object"), ("object", "string")])
def test_the_other_editions_form_is_refused_by_the_simulator(ofs_simulator_factory, connect, edition, connection_says):
    sim = ofs_simulator_factory(CATALOGUE, params_format=edition)
    hook = connect(sim, dynamic_params_format=connection_says)

    with pytest.raises(OFSInvalidArgumentsError, match="dynamicParamList"):
        hook.trigger("QUICK", dynamic_params={"batchParams": {"$FICMISDATE$": "2026-03-31"}})

    assert sim.journal.runs_created() == 0


@pytest.mark.parametrize("sim", ["object"], indirect=True)
def test_an_object_edition_refuses_an_encoded_string_that_is_not_json_before_sending(sim, connect):
    hook = connect(sim)

    with pytest.raises(ValueError, match="dynamic_params must encode a JSON object for a batch"):
        hook.trigger("QUICK", dynamic_params="$FICMISDATE$=2026-03-31")

    assert sim.journal.count("trigger") == 0


@both_editions
def test_the_operator_sends_mis_date_and_included_tasks_in_the_connections_edition(sim, connect):
    connect(sim)
    operator = OFSTriggerBatchOperator(
        task_id="t",
        batch_name="QUICK",
        mis_date="2026-03-31",
        included_tasks="{{ params.only }}",
        wait_for_completion=False,
        durable=False,
    )
    operator.included_tasks = "Q2"  # what the template rendered to

    run_id = operator.execute({"ti": TaskInstance(1, 1)})

    run = sim.get_run(run_id)
    assert run.mis_date == "2026-03-31"
    assert dict(run.tasks)["Q1"].name == "EXCLUDED"
    assert "included_tasks" in OFSTriggerBatchOperator.template_fields


# ---------------------------------------------------------------------------------------------- includedTasks


@both_editions
def test_included_tasks_run_and_the_rest_is_excluded(sim, connect):
    hook = connect(sim)

    batch = hook.trigger("QUICK", included_tasks=["Q2"])
    group = hook.trigger("GRP", "group", included_tasks="FAILS_ONCE")

    states = {code: state.name for code, state in sim.get_run(batch).tasks}
    assert states["Q1"] == "EXCLUDED"
    assert states["Q2"] != "EXCLUDED"
    (first_child, _state), *_ = sim.get_run(group).children
    assert sim.get_run(first_child).state.name == "EXCLUDED"


def test_included_task_that_does_not_exist_is_object_not_found(sim, connect):
    from airflow_provider_ofs.exceptions import OFSObjectNotFoundError

    with pytest.raises(OFSObjectNotFoundError):
        connect(sim).trigger("QUICK", included_tasks="NOPE")


# ------------------------------------------------------------------------------------------------ remote user


def test_remote_user_is_sent_as_given_not_as_the_iam_user(ofs_simulator_factory, connect):
    sim = ofs_simulator_factory(CATALOGUE, credentials=SimulatorCredentials(remote_user="ofs_batch_exec"))

    run_id = connect(sim).trigger("QUICK")  # the simulator's connection names its remote user
    with pytest.raises(OFSInvalidHeadersError, match="code -5"):
        connect(sim, conn_id="login_as_remote_user", remote_user="").trigger("QUICK")

    assert sim.journal.runs_created() == 1
    assert sim.get_run(run_id).name == "QUICK"


# ---------------------------------------------------------------------------------------------------- tokens


def test_refresh_grant_asks_for_the_connections_scope_without_offline_access(sim, connect, client_clock):
    hook = connect(sim, scope="urn:opc:idm:t.user.me offline_access")
    hook.get_token()

    client_clock.offset = 4000.0  # past the refresh time
    hook.get_token()

    refreshes = [entry.http_status for entry in sim.journal.entries("token") if entry.grant == "refresh_token"]
    assert refreshes == [200]  # the fixed __myscopes__ scope would be wider than granted: invalid_scope
    assert sim.journal.token_requests("password") == 1


def test_without_offline_access_the_password_grant_is_used_again(sim, connect, client_clock):
    hook = connect(sim, scope="urn:opc:idm:__myscopes__")
    run_id = hook.trigger("LONG")

    client_clock.offset = 4000.0
    hook.get_status(run_id)
    client_clock.offset = 8000.0
    run_on_loop(lambda: OFSSchedulerHook().aget_status(run_id))

    assert sim.journal.token_requests("password") == 3
    assert sim.journal.token_requests("refresh_token") == 0


def test_300_watchers_whose_token_expires_together_make_one_token_request_while_iam_throttles(
    sim, connect, client_clock
):
    hook = connect(sim)
    run_id = hook.trigger("LONG")
    client_clock.offset = 4000.0  # every watcher finds the token due for refresh at once
    sim.add_fault("token", [429, 429, 429])  # without Retry-After, as IAM throttles
    before = sim.journal.token_requests()

    async def watch_together() -> list[RunState]:
        statuses = await asyncio.gather(*(OFSSchedulerHook().aget_status(run_id) for _ in range(300)))
        return [status.state for status in statuses]

    states = run_on_loop(watch_together)

    assert states == [RunState.ONGOING] * 300
    # one token request for all 300: three throttled attempts and the one answered, all inside one shared call
    assert sim.journal.token_requests() - before == 4
    assert [entry.http_status for entry in sim.journal.entries("token")][-4:] == [429, 429, 429, 200]


# ------------------------------------------------------------------------------------------- failure messages


def test_a_failed_run_names_its_failed_tasks_with_their_own_status_texts(sim, connect):
    run_id = connect(sim).trigger("FAILS_ONCE")
    wait_until_finished(OFSSchedulerHook(), run_id)

    with pytest.raises(OFSRunFailedError, match=r"; failed: F2 \(FAILED\)$"):
        OFSBatchRunSensor(task_id="s", batch_run_id=run_id).poke({})
    with pytest.raises(OFSRunFailedError, match=r"; failed: F2 \(FAILED\)$"):
        OFSBatchRunSensor(task_id="s", batch_run_id=run_id, tasks=["F2"]).poke({})


def test_a_call_level_minus_1_is_reported_as_the_documented_failure_and_starts_nothing(sim, connect):
    sim.add_fault("trigger", ["api_failure"])

    with pytest.raises(OFSCallFailedError, match=r"code -1 \(Failure\)"):
        connect(sim).trigger("QUICK")

    assert sim.journal.runs_created() == 0


# ------------------------------------------------------------------------------------------- tasks of a group


def test_tasks_for_a_group_run_fail_the_sensor_at_once_saying_why(sim, connect):
    run_id = connect(sim).trigger("GRP", "group")

    with pytest.raises(OFSTasksOfGroupError, match="is the run of a batch group") as raised:
        OFSBatchRunSensor(task_id="s", batch_run_id=run_id, tasks=["Q1"]).poke({})

    assert isinstance(raised.value, AirflowFailException)
    assert sim.journal.count("status") == 1  # no waiting for the group to end


def test_tasks_for_a_group_run_end_the_trigger_with_that_reason(sim, connect):
    run_id = connect(sim).trigger("GRP", "group")
    trigger = OFSBatchRunTrigger(run_id, poll_interval=0.05, tasks=["Q1"])

    async def collect() -> list[dict[str, object]]:
        return [event.payload async for event in trigger.run()]

    (event,) = run_on_loop(collect)

    assert event["status"] == "error"
    assert "is the run of a batch group" in str(event["message"])
    assert "Lost track" not in str(event["message"])


def test_tasks_filter_is_kept_for_a_batch_run(sim, connect):
    run_id = connect(sim).trigger("QUICK")
    sensor = OFSBatchRunSensor(task_id="s", batch_run_id=run_id, tasks=["Q1"])

    wait_until_finished(OFSSchedulerHook(), run_id)

    assert sensor.poke({}) is True
