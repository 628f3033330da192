"""The async path (``aget_status``/``ainterrupt``, used by triggers): same rules, tokens and errors as the sync hook."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_ofs.exceptions import (
    FailureKind,
    OFSAuthenticationError,
    OFSNotOngoingError,
    OFSObjectNotFoundError,
    OFSOutcomeUnknownError,
    OFSTokenUnavailableError,
    OFSTransportError,
)
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.states import RunState
from tests.hook.conftest import CATALOGUE, closed_port, run_on_loop, wait_until_finished
from tests.hook.test_hook_retries import INCOMPLETE_STATUS, ONGOING_STATUS


@pytest.fixture
def sim(ofs_simulator_factory):
    return ofs_simulator_factory(CATALOGUE, slow_seconds=1.5)


def test_aget_status_reads_the_run(sim, connect):
    run_id = connect(sim).trigger("FAILS_ONCE")
    wait_until_finished(OFSSchedulerHook(), run_id)

    status = run_on_loop(lambda: OFSSchedulerHook().aget_status(run_id))

    assert status.run_id == run_id
    assert status.state is RunState.FAILED
    assert status.failed_tasks == ["F2"]


def test_aget_status_of_an_unknown_run_is_object_not_found(sim, connect):
    connect(sim)

    with pytest.raises(OFSObjectNotFoundError, match="NO_SUCH_RUN"):
        run_on_loop(lambda: OFSSchedulerHook().aget_status("NO_SUCH_RUN"))

    assert sim.journal.count("status") == 1


def test_ainterrupt_stops_a_run_and_a_second_interrupt_counts_as_done(sim, connect, logs):
    run_id = connect(sim).trigger("LONG")

    async def interrupt_twice():
        hook = OFSSchedulerHook()
        await hook.ainterrupt("LONG", run_id)
        await hook.ainterrupt("LONG", run_id)
        return await hook.aget_status(run_id)

    status = run_on_loop(interrupt_twice)

    assert status.state is RunState.INTERRUPTED
    assert [entry.api_status_code for entry in sim.journal.entries("interrupt")] == ["0", "-7"]
    assert any("already interrupted" in message for message in logs.messages())


def test_ainterrupt_of_a_finished_run_is_not_ongoing_error(sim, connect):
    run_id = connect(sim).trigger("QUICK")
    wait_until_finished(OFSSchedulerHook(), run_id)

    with pytest.raises(OFSNotOngoingError, match="Job is not ongoing/aborted"):
        run_on_loop(lambda: OFSSchedulerHook().ainterrupt("QUICK", run_id))


@pytest.mark.parametrize("fault", [500, 503, 429, "reset", "slow", "html", "garbage"])
def test_aget_status_recovers_from_a_transient_failure(sim, connect, fault):
    run_id = connect(sim, timeout=0.5).trigger("QUICK")
    sim.add_fault("status", [fault])

    status = run_on_loop(lambda: OFSSchedulerHook().aget_status(run_id))

    assert status.run_id == run_id
    assert sim.journal.count("status") == 2


def test_aget_status_answer_without_the_run_state_is_retried_like_any_unparseable_answer(scripted_esi, connect_dict):
    esi = scripted_esi([INCOMPLETE_STATUS, ONGOING_STATUS])
    hook = connect_dict(esi.connection())

    assert run_on_loop(lambda: hook.aget_status("R1")).state is RunState.ONGOING
    assert esi.requests == 2


def test_ainterrupt_is_repeated_after_503(sim, connect):
    run_id = connect(sim).trigger("LONG")
    sim.add_fault("interrupt", [503])

    run_on_loop(lambda: OFSSchedulerHook().ainterrupt("LONG", run_id))

    assert sim.journal.count("interrupt") == 2
    assert sim.get_run(run_id).state.name == "INTERRUPTED"


@pytest.mark.parametrize("fault", [500, "reset", "reset_after", "slow", "garbage"])
def test_ainterrupt_is_never_repeated_when_it_may_have_been_processed(sim, connect, fault):
    run_id = connect(sim, timeout=0.5).trigger("LONG")
    sim.add_fault("interrupt", [fault])

    with pytest.raises(OFSOutcomeUnknownError, match="may have been processed"):
        run_on_loop(lambda: OFSSchedulerHook().ainterrupt("LONG", run_id))

    assert sim.journal.count("interrupt") == 1


def test_aget_status_with_expired_token_refreshes_once_and_repeats_once(sim, connect):
    run_id = connect(sim).trigger("QUICK")
    sim.expire_tokens()

    status = run_on_loop(lambda: OFSSchedulerHook().aget_status(run_id))

    assert status.run_id == run_id
    assert [entry.http_status for entry in sim.journal.entries("status")] == [401, 200]
    assert sim.journal.token_requests("refresh_token") == 1


def test_aget_status_second_401_is_an_authentication_error_without_the_token(sim, connect):
    hook = connect(sim)
    token = hook.get_token()
    sim.add_fault("status", [401, 401])

    with pytest.raises(OFSAuthenticationError) as raised:
        run_on_loop(lambda: OFSSchedulerHook().aget_status("ANY_RUN"))

    assert token not in str(raised.value)
    assert hook.get_token() not in str(raised.value)


def test_async_token_outage_beyond_the_budget_is_token_unavailable(sim, connect):
    connect(sim, retry_attempts=3)
    sim.add_fault("token", [503, 503, 503, 503])

    with pytest.raises(OFSTokenUnavailableError):
        run_on_loop(lambda: OFSSchedulerHook().aget_status("ANY_RUN"))

    assert sim.journal.token_requests() == 3


def test_async_token_endpoint_down_for_a_while_recovers(sim, connect):
    run_id = connect(sim).trigger("QUICK")
    from airflow_provider_ofs.tokens import TOKEN_CACHE

    TOKEN_CACHE.clear()
    sim.add_fault("token", [503, 503])

    assert run_on_loop(lambda: OFSSchedulerHook().aget_status(run_id)).run_id == run_id
    assert sim.journal.token_requests() == 4  # one sync, then three async


def test_async_refused_connection_is_retried_then_reported(sim, connect_dict):
    conn = sim.connection_dict(retry_wait=0.02, retry_attempts=3)
    conn["host"] = f"http://127.0.0.1:{closed_port()}"
    connect_dict(conn)

    with pytest.raises(OFSTransportError) as raised:
        run_on_loop(lambda: OFSSchedulerHook().aget_status("ANY_RUN"))

    assert raised.value.kind is FailureKind.NOT_CONNECTED


def test_one_loop_reuses_one_session_for_many_calls(sim, connect):
    from airflow_provider_ofs.hooks.async_client import shared_session

    run_id = connect(sim).trigger("QUICK")

    async def poll_twice():
        hook = OFSSchedulerHook()
        await hook.aget_status(run_id)
        first = shared_session(hook.settings.verify)
        await hook.aget_status(run_id)
        return first, shared_session(hook.settings.verify)

    first, second = run_on_loop(poll_twice)

    assert first is second
    assert first.closed  # close_shared_sessions() at the end of the loop closed it


def test_async_path_does_not_block_the_event_loop_while_waiting(sim, connect):
    run_id = connect(sim, timeout=0.5).trigger("QUICK")
    sim.add_fault("status", ["slow"])
    ticks: list[int] = []

    async def poll_while_ticking():
        async def ticker():
            while True:
                ticks.append(1)
                await asyncio.sleep(0.02)

        task = asyncio.create_task(ticker())
        try:
            return await OFSSchedulerHook().aget_status(run_id)
        finally:
            task.cancel()

    run_on_loop(poll_while_ticking)

    assert len(ticks) >= 3  # the loop kept running during the 0.5 s timeout (a blocked loop ticks once)


@pytest.fixture
def connection_reads(monkeypatch) -> list[str]:
    """The connection ids the async path read through Airflow (each one a round trip in a triggerer)."""
    from airflow.providers.common.compat import connection

    reads: list[str] = []
    read = connection.get_async_connection

    async def counted(conn_id, *args, **kwargs):
        reads.append(conn_id)
        return await read(conn_id, *args, **kwargs)

    monkeypatch.setattr(connection, "get_async_connection", counted)
    return reads


def test_triggers_starting_together_on_one_loop_read_the_connection_once(sim, connect, connection_reads):
    run_id = connect(sim).trigger("QUICK")

    async def many_watchers_then_one_more():
        await asyncio.gather(*(OFSSchedulerHook().aget_status(run_id) for _ in range(50)))
        return await OFSSchedulerHook().aget_status(run_id)

    assert run_on_loop(many_watchers_then_one_more).run_id == run_id
    assert connection_reads == ["ofs_scheduler_default"]
    assert sim.journal.count("status") == 51


def test_a_new_event_loop_reads_a_changed_connection_afresh(sim, connect, connection_reads):
    from airflow_provider_ofs.hooks.async_client import aload_settings

    connect(sim, retry_attempts=2)
    first = run_on_loop(lambda: aload_settings("ofs_scheduler_default"))
    connect(sim, retry_attempts=3)
    second = run_on_loop(lambda: aload_settings("ofs_scheduler_default"))

    assert (first.retry_attempts, second.retry_attempts) == (2, 3)
    assert len(connection_reads) == 2


def test_connection_settings_are_read_again_once_they_expire(sim, connect, monkeypatch, connection_reads):
    from airflow_provider_ofs.hooks import async_client

    monkeypatch.setattr(async_client, "SETTINGS_TTL", 0.0)
    connect(sim, retry_attempts=2)

    async def read_change_read():
        first = await async_client.aload_settings("ofs_scheduler_default")
        connect(sim, retry_attempts=3)
        return first, await async_client.aload_settings("ofs_scheduler_default")

    first, second = run_on_loop(read_change_read)

    assert (first.retry_attempts, second.retry_attempts) == (2, 3)
    assert len(connection_reads) == 2


def test_an_invalid_connection_is_not_kept_so_a_fixed_one_is_read_on_the_same_loop(sim, connect, connect_dict):
    from airflow_provider_ofs.exceptions import OFSConnectionConfigError
    from airflow_provider_ofs.hooks.async_client import aload_settings

    broken = sim.connection_dict()
    del broken["login"]
    connect_dict(broken)

    async def read_fix_read():
        with pytest.raises(OFSConnectionConfigError, match="login"):
            await aload_settings("ofs_scheduler_default")
        connect(sim)
        return await aload_settings("ofs_scheduler_default")

    assert run_on_loop(read_fix_read).base_url == sim.base_url


def test_concurrent_polls_share_a_bounded_pool_of_connections_to_one_host(connect_dict):
    # A slow ESI host and many more concurrent polls than the pool holds: every poll succeeds, over
    # no more than CONNECTIONS_PER_HOST connections (the server counts the client ports it saw).
    from aiohttp import web

    from airflow_provider_ofs.hooks.async_client import CONNECTIONS_PER_HOST
    from airflow_provider_ofs.protocol import ESI_PATH, Verb

    peers: set[object] = set()

    async def status(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        await asyncio.sleep(0.05)
        run_id = (await request.json())["batchRunId"]
        return web.json_response({"statusCode": "0", "batchRunId": run_id, "batchStatusCode": "2"})

    async def poll_many() -> list[RunState]:
        app = web.Application()
        app.router.add_post(ESI_PATH + Verb.STATUS.value, status)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        connect_dict(
            {
                "conn_type": "ofs_scheduler",
                "host": f"http://127.0.0.1:{port}",
                "extra": {"tenant_id": "T", "service_id": "S", "remote_user": "U", "access_token": "pre-issued"},
            }
        )
        try:
            hook = OFSSchedulerHook()
            statuses = await asyncio.gather(*(hook.aget_status(f"R{i}") for i in range(4 * CONNECTIONS_PER_HOST)))
        finally:
            await runner.cleanup()
        return [status.state for status in statuses]

    assert run_on_loop(poll_many) == [RunState.ONGOING] * (4 * CONNECTIONS_PER_HOST)
    assert 1 < len(peers) <= CONNECTIONS_PER_HOST
