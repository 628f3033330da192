"""IAM tokens through the hook: grants, refresh ahead of expiry, 401 handling, pre-issued tokens, one fetch."""

from __future__ import annotations

import asyncio
import base64
import threading
import time

import pytest
import requests

from airflow_provider_ofs.exceptions import OFSAuthenticationError, OFSConnectionConfigError
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.simulator.credentials import SimulatorCredentials
from tests.hook.conftest import CATALOGUE, run_on_loop


def issue_token_out_of_band(simulator):
    """What an administrator does in IAM: obtain a long-lived token once, outside Airflow."""
    creds = simulator.credentials
    basic = base64.b64encode(f"{creds.client_id}:{creds.client_secret}".encode()).decode()
    answer = requests.post(
        simulator.token_url,
        data={"grant_type": "password", "username": creds.username, "password": creds.password, "scope": "x"},
        headers={"Authorization": f"Basic {basic}"},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def test_first_call_uses_the_password_grant_with_basic_client_auth(sim, connect):
    hook = connect(sim)

    token = hook.get_token()

    assert token
    assert sim.journal.token_requests("password") == 1
    assert sim.journal.token_requests() == 1


def test_token_is_cached_across_calls_and_hooks(sim, connect):
    hook = connect(sim)
    run_id = hook.trigger("QUICK")
    hook.get_status(run_id)

    OFSSchedulerHook().get_status(run_id)

    assert sim.journal.token_requests() == 1


def test_token_is_kept_until_its_refresh_lead_time(ofs_simulator_factory, connect, client_clock):
    simulator = ofs_simulator_factory(CATALOGUE, token_lifetime=300)  # lead time min(60, 300/4) = 60 s
    hook = connect(simulator)
    first = hook.get_token()

    client_clock.offset = 235  # 5 s before the refresh time
    assert hook.get_token() == first

    assert simulator.journal.token_requests() == 1


def test_token_near_expiry_is_renewed_with_the_refresh_grant(ofs_simulator_factory, connect, client_clock):
    simulator = ofs_simulator_factory(CATALOGUE, token_lifetime=300)
    hook = connect(simulator)
    first = hook.get_token()

    client_clock.offset = 241  # 1 s past the refresh time, 59 s before expiry
    run_id = hook.trigger("QUICK")

    assert hook.get_token() != first
    assert simulator.journal.token_requests("refresh_token") == 1
    assert simulator.journal.token_requests("password") == 1
    assert simulator.get_run(run_id).name == "QUICK"


def test_refused_refresh_token_falls_back_to_the_password_grant(ofs_simulator_factory, connect, client_clock):
    simulator = ofs_simulator_factory(CATALOGUE, token_lifetime=300)
    hook = connect(simulator)
    hook.get_token()
    simulator.revoke_refresh_tokens()

    client_clock.offset = 241  # 1 s past the refresh time, 59 s before expiry
    run_id = hook.trigger("QUICK")

    assert simulator.journal.token_requests("refresh_token") == 1
    assert simulator.journal.token_requests("password") == 2
    assert simulator.get_run(run_id).name == "QUICK"


def test_token_expired_mid_sequence_is_refreshed_once_and_the_call_repeated_once(sim, connect):
    hook = connect(sim)
    run_id = hook.trigger("QUICK")
    sim.expire_tokens()

    status = hook.get_status(run_id)

    assert status.run_id == run_id
    assert [entry.http_status for entry in sim.journal.entries("status")] == [401, 200]
    assert sim.journal.token_requests("refresh_token") == 1
    assert sim.journal.token_requests("password") == 1


def test_trigger_refused_with_401_is_repeated_once_and_creates_one_run(sim, connect):
    hook = connect(sim)
    hook.get_token()
    sim.expire_tokens()

    hook.trigger("QUICK")

    assert sim.journal.count("trigger") == 2
    assert sim.journal.runs_created() == 1


def test_second_401_is_an_authentication_error_that_shows_no_token(sim, connect):
    hook = connect(sim)
    refused = hook.get_token()
    sim.add_fault("status", [401, 401])

    with pytest.raises(OFSAuthenticationError) as raised:
        hook.get_status("ANY_RUN")

    renewed = hook.get_token()
    message = str(raised.value)
    assert "401" in message
    assert "refused" in message
    assert repr("ofs_scheduler_default") in message
    assert refused not in message
    assert renewed not in message
    assert sim.journal.count("status") == 2


def test_pre_issued_access_token_makes_no_token_request(sim, connect_dict):
    token = issue_token_out_of_band(sim)
    before = sim.journal.token_requests()
    conn = sim.connection_dict(access_token=token, retry_wait=0.02)
    for name in ("iam_url", "client_id", "client_secret"):
        del conn["extra"][name]
    conn["password"] = None
    hook = connect_dict(conn)

    run_id = hook.trigger("QUICK")
    hook.get_status(run_id)

    assert hook.get_token() == token
    assert sim.journal.token_requests() == before


def test_refused_pre_issued_token_is_an_authentication_error_without_a_token_request(sim, connect):
    token = issue_token_out_of_band(sim)
    hook = connect(sim, access_token=token)
    before = sim.journal.token_requests()
    sim.expire_tokens()

    with pytest.raises(OFSAuthenticationError, match="pre-issued access_token") as raised:
        hook.get_status("ANY_RUN")

    assert token not in str(raised.value)
    assert sim.journal.token_requests() == before


def test_twenty_threads_fetch_one_token(sim, connect):
    connect(sim)
    barrier = threading.Barrier(20)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait()
            tokens.append(OFSSchedulerHook().get_token())
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(tokens) == 20
    assert len(set(tokens)) == 1
    assert sim.journal.token_requests() == 1


def test_two_hundred_coroutines_fetch_one_token(sim, connect):
    import asyncio

    hook = connect(sim)
    run_id = hook.trigger("QUICK")
    from airflow_provider_ofs.tokens import TOKEN_CACHE

    TOKEN_CACHE.clear()  # the trigger above fetched one synchronously; start the async side from nothing
    before = sim.journal.token_requests()

    async def poll_all():
        async_hook = OFSSchedulerHook()
        return await asyncio.gather(*(async_hook.aget_status(run_id) for _ in range(200)))

    statuses = run_on_loop(poll_all)

    assert {status.run_id for status in statuses} == {run_id}
    assert sim.journal.token_requests() - before == 1


def test_same_identity_under_two_connection_ids_shares_one_token(sim, connect):
    first = connect(sim, conn_id="ofs_first")
    second = connect(sim, conn_id="ofs_second")

    assert first.get_token() == second.get_token()
    assert sim.journal.token_requests() == 1


def test_connections_with_different_users_get_different_tokens(ofs_simulator_factory, connect):
    alice = ofs_simulator_factory(CATALOGUE, credentials=SimulatorCredentials(username="alice", password="alice-pw"))
    bob = ofs_simulator_factory(CATALOGUE, credentials=SimulatorCredentials(username="bob", password="bob-pw"))
    alice_hook = connect(alice, conn_id="ofs_alice")
    bob_hook = connect(bob, conn_id="ofs_bob")

    alice_hook.trigger("QUICK")
    bob_hook.trigger("QUICK")

    assert alice_hook.get_token() != bob_hook.get_token()
    assert alice.journal.token_requests() == 1
    assert bob.journal.token_requests() == 1


def test_every_obtained_token_is_masked_at_once(sim, connect, monkeypatch):
    from airflow_provider_ofs.hooks import scheduler
    from airflow_provider_ofs.tokens import TOKEN_CACHE

    masked: list[str] = []
    monkeypatch.setattr(scheduler, "mask_secret", lambda secret, name=None: masked.append(secret))
    hook = connect(sim)

    token = hook.get_token()

    refresh_token = TOKEN_CACHE.fresh(hook.settings.cache_key).refresh_token
    assert token in masked
    assert refresh_token in masked


def test_connections_that_differ_only_in_scope_get_tokens_of_their_own(sim, connect):
    narrow = connect(sim, conn_id="ofs_narrow", scope="urn:opc:idm:__myscopes__")
    wide = connect(sim, conn_id="ofs_wide")

    narrow.get_token()
    wide.get_token()

    assert sim.journal.token_requests() == 2


def test_a_refused_pre_issued_token_fails_that_call_only(sim, connect):
    token = issue_token_out_of_band(sim)
    hook = connect(sim, access_token=token)
    before = sim.journal.token_requests()
    sim.add_fault("status", [401, 401])

    with pytest.raises(OFSAuthenticationError, match="pre-issued access_token"):
        hook.get_status("ANY_RUN")
    run_id = hook.trigger("QUICK")  # the same token, sent again: the server accepts it now

    assert hook.get_status(run_id).run_id == run_id
    assert sim.journal.count("status") == 3  # refused, repeated once, then the later call
    assert sim.journal.token_requests() == before


def test_a_refused_pre_issued_token_fails_that_wait_only_on_the_async_path(sim, connect):
    token = issue_token_out_of_band(sim)
    run_id = connect(sim, access_token=token).trigger("QUICK")
    sim.add_fault("status", [401, 401])

    async def poll_twice():
        hook = OFSSchedulerHook()
        with pytest.raises(OFSAuthenticationError, match="pre-issued access_token"):
            await hook.aget_status(run_id)
        return await hook.aget_status(run_id)

    assert run_on_loop(poll_twice).run_id == run_id


@pytest.mark.parametrize("login", ["\u7528\u6237", "jos\u00e9"])
def test_a_login_that_an_http_header_cannot_carry_is_a_config_error_on_both_paths(sim, connect_dict, login):
    conn = sim.connection_dict(retry_wait=0.02)
    conn["login"] = login  # also the default ofs_remote_user header ...
    del conn["extra"]["remote_user"]  # ... when the connection names none (the simulator's does)

    with pytest.raises(OFSConnectionConfigError, match="'remote_user'"):
        connect_dict(conn).get_token()
    with pytest.raises(OFSConnectionConfigError, match="'remote_user'"):
        run_on_loop(lambda: OFSSchedulerHook().aget_status("ANY_RUN"))
    assert sim.journal.token_requests() == 0


def test_four_second_tokens_are_renewed_before_they_expire_on_both_paths(ofs_simulator_factory, connect):
    simulator = ofs_simulator_factory(CATALOGUE, token_lifetime=4)
    hook = connect(simulator)
    run_id = hook.trigger("QUICK")
    ends = time.monotonic() + 10  # two and a half lifetimes

    async def poll_until(moment: float) -> None:
        client = OFSSchedulerHook(hook.ofs_conn_id)
        while time.monotonic() < moment:
            await client.aget_status(run_id)
            await asyncio.sleep(0.2)

    while time.monotonic() < ends - 5:
        hook.get_status(run_id)
        time.sleep(0.2)
    run_on_loop(lambda: poll_until(ends))

    answered = [entry.http_status for entry in simulator.journal.entries("status")]
    assert len(answered) > 10
    assert 401 not in answered
    assert simulator.journal.token_requests() >= 3  # renewed each lifetime, not once a minute
