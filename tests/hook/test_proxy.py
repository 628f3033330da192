"""The ``proxy`` extra and HTTP(S)_PROXY/NO_PROXY, through a real forward proxy on 127.0.0.1, on both paths."""

from __future__ import annotations

import pytest

from airflow_provider_ofs.exceptions import (
    FailureKind,
    OFSConnectionConfigError,
    OFSTokenUnavailableError,
    OFSTransportError,
)
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.simulator.server import TOKEN_PATH
from airflow_provider_ofs.simulator.tls import make_self_signed_cert
from tests.hook.conftest import CATALOGUE, closed_port, run_on_loop

ESI = "/SchedulerService/rest-api/v1/external/"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def clean_proxy_environment(monkeypatch):
    """No proxy variable from the machine running the tests; NO_PROXY explicitly empty (no loopback default)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("NO_PROXY", "")


@pytest.fixture
def tls_sim(ofs_simulator_factory, tmp_path):
    certfile, keyfile = make_self_signed_cert(tmp_path)
    return ofs_simulator_factory(CATALOGUE, ssl_certfile=certfile, ssl_keyfile=keyfile)


def trigger_then_poll_on_both_paths(hook: OFSSchedulerHook) -> str:
    """Trigger and poll on the sync path, then poll on a fresh event loop (the trigger's path)."""
    run_id = hook.trigger("QUICK")
    hook.get_status(run_id)
    status = run_on_loop(lambda: OFSSchedulerHook(hook.ofs_conn_id).aget_status(run_id))
    assert status.run_id == run_id
    return run_id


def test_the_proxy_extra_carries_token_and_esi_calls_on_both_paths(sim, connect, forward_proxy):
    hook = connect(sim, proxy=forward_proxy.url)

    trigger_then_poll_on_both_paths(hook)

    assert forward_proxy.log == [  # the async client shares the sync hook's token: one token request
        f"POST {sim.root_url}{TOKEN_PATH}",
        f"POST {sim.base_url}{ESI}trigger",
        f"POST {sim.base_url}{ESI}status",
        f"POST {sim.base_url}{ESI}status",
    ]
    assert sim.journal.count("status") == 2


def test_https_goes_through_a_connect_tunnel_on_both_paths(tls_sim, connect, forward_proxy, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", forward_proxy.url)
    hook = connect(tls_sim)

    run_id = hook.trigger("QUICK")
    sync_tunnels = len(forward_proxy.log)
    run_on_loop(lambda: OFSSchedulerHook().aget_status(run_id))

    assert sync_tunnels >= 1
    assert len(forward_proxy.log) > sync_tunnels  # the async path opened a tunnel of its own
    assert set(forward_proxy.log) == {f"CONNECT 127.0.0.1:{tls_sim.port}"}  # and nothing went around them
    assert tls_sim.journal.count("status") == 1


def test_http_proxy_from_the_environment_applies_to_the_async_path_too(sim, connect, forward_proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url)
    hook = connect(sim)

    trigger_then_poll_on_both_paths(hook)

    statuses = [line for line in forward_proxy.log if line.endswith(f"{ESI}status")]
    assert len(statuses) == 2  # sync and async, loopback included: NO_PROXY is empty
    assert f"POST {sim.root_url}{TOKEN_PATH}" in forward_proxy.log


@pytest.mark.parametrize(
    "no_proxy", ["127.0.0.1", "localhost,127.0.0.1:0,127.0.0.1", "127.0.0.0/8", "*", "localhost 127.0.0.1"]
)
def test_a_host_in_no_proxy_bypasses_the_environment_proxy_on_both_paths(
    sim, connect, forward_proxy, monkeypatch, no_proxy
):
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    hook = connect(sim)

    trigger_then_poll_on_both_paths(hook)

    assert forward_proxy.log == []


def test_without_proxy_settings_calls_go_direct(sim, connect, forward_proxy):
    trigger_then_poll_on_both_paths(connect(sim))

    assert forward_proxy.log == []


@pytest.mark.parametrize(
    "call",
    [lambda: OFSSchedulerHook().get_token(), lambda: run_on_loop(lambda: OFSSchedulerHook().aget_status("RUN"))],
    ids=["sync", "async"],
)
def test_an_unreachable_proxy_means_the_connection_could_not_be_established(sim, connect, call):
    connect(sim, proxy=f"http://127.0.0.1:{closed_port()}", retry_attempts=2)

    with pytest.raises(OFSTokenUnavailableError) as raised:
        call()

    assert raised.value.__cause__.kind is FailureKind.NOT_CONNECTED  # the last failure: the proxy refused
    assert sim.journal.token_requests() == 0


# ---------------------------------------------------------------------------- a proxy that refuses to carry a call

PROXY_PASSWORD = "PROXY-PASSWORD-7f3k"


def through_proxy(simulator, connect_dict, proxy: str):
    """A hook on a connection to ``simulator`` through ``proxy``, with a pre-issued token (no IAM call)."""
    direct = connect_dict(simulator.connection_dict(), "ofs_direct")
    conn = simulator.connection_dict(access_token=direct.get_token(), retry_wait=0.02, proxy=proxy)
    return connect_dict(conn)


def sync_trigger(hook):
    return hook.trigger("QUICK")


def async_status(hook):
    return run_on_loop(lambda: OFSSchedulerHook(hook.ofs_conn_id).aget_status("RUN"))


@pytest.fixture(params=["http", "https"])
def target(request, sim, tls_sim):
    """The simulator to reach through the proxy: plain http (the proxy forwards) or https (a CONNECT tunnel)."""
    return sim if request.param == "http" else tls_sim


@pytest.mark.parametrize("call", [sync_trigger, async_status], ids=["sync", "async"])
@pytest.mark.parametrize("given", ["none", "wrong"])
def test_a_proxy_answering_407_is_a_config_error_naming_it_and_nothing_reached_ofs(
    target, connect_dict, forward_proxy, call, given
):
    forward_proxy.credentials = f"proxyuser:{PROXY_PASSWORD}"
    auth = {"none": "", "wrong": "proxyuser:WRONG-PASSWORD-2z@"}[given]
    hook = through_proxy(target, connect_dict, forward_proxy.url.replace("://", f"://{auth}"))

    with pytest.raises(OFSConnectionConfigError) as raised:
        call(hook)

    message = str(raised.value)
    assert "407" in message
    assert forward_proxy.url.rpartition("/")[2] in message  # the proxy's host and port
    assert "may have been processed" not in message
    assert "WRONG-PASSWORD-2z" not in message
    assert forward_proxy.log  # the proxy was asked, and refused
    assert target.journal.count("trigger") + target.journal.count("status") == 0


@pytest.mark.parametrize("call", [sync_trigger, async_status], ids=["sync", "async"])
def test_a_refused_connect_tunnel_is_a_config_error_naming_the_proxy(tls_sim, connect_dict, forward_proxy, call):
    forward_proxy.connect_status = 403
    hook = through_proxy(tls_sim, connect_dict, forward_proxy.url)

    with pytest.raises(OFSConnectionConfigError) as raised:
        call(hook)

    assert "403" in str(raised.value)
    assert "may have been processed" not in str(raised.value)
    assert forward_proxy.url.rpartition("/")[2] in str(raised.value)
    assert tls_sim.journal.count("trigger") + tls_sim.journal.count("status") == 0


def test_proxy_credentials_in_the_proxy_url_are_sent_on_both_paths(target, connect_dict, forward_proxy):
    forward_proxy.credentials = f"proxyuser:{PROXY_PASSWORD}"
    hook = through_proxy(target, connect_dict, forward_proxy.url.replace("://", f"://proxyuser:{PROXY_PASSWORD}@"))

    run_id = hook.trigger("QUICK")
    run_on_loop(lambda: OFSSchedulerHook(hook.ofs_conn_id).aget_status(run_id))

    assert target.journal.count("trigger") == 1
    assert target.journal.count("status") == 1


@pytest.mark.parametrize("call", [sync_trigger, async_status], ids=["sync", "async"])
def test_a_tunnel_the_proxy_could_not_open_is_never_connected_and_retried(tls_sim, connect_dict, forward_proxy, call):
    forward_proxy.connect_status = 502
    hook = through_proxy(tls_sim, connect_dict, forward_proxy.url)

    with pytest.raises(OFSTransportError) as raised:
        call(hook)

    assert raised.value.kind is FailureKind.NOT_CONNECTED  # even a trigger: nothing reached OFS
    assert "may have been processed" not in str(raised.value)
    assert len(forward_proxy.log) == 5  # retry_attempts: every attempt asked the proxy again
