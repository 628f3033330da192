"""TLS: a CA bundle path verifies the simulator's self-signed certificate; ``verify`` true refuses it; false warns."""

from __future__ import annotations

import pytest

from airflow_provider_ofs.exceptions import OFSConnectionConfigError
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.simulator.tls import make_self_signed_cert
from airflow_provider_ofs.states import RunState
from tests.hook.conftest import CATALOGUE, run_on_loop


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_sim(ofs_simulator_factory, certificate):
    certfile, keyfile = certificate
    return ofs_simulator_factory(CATALOGUE, ssl_certfile=certfile, ssl_keyfile=keyfile)


def insecure_warnings(logs):
    return [message for message in logs.messages("warning") if "verif" in message and "'verify'" in message]


def test_ca_bundle_path_verifies_the_server(tls_sim, connect, certificate):
    hook = connect(tls_sim, verify=certificate[0])

    run_id = hook.trigger("QUICK")

    assert tls_sim.base_url.startswith("https://")
    assert hook.get_status(run_id).run_id == run_id


def test_ca_bundle_path_wins_over_requests_ca_bundle_in_the_environment(tls_sim, connect, certificate, monkeypatch):
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # common on corporate hosts; lacks our CA
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())
    hook = connect(tls_sim, verify=certificate[0])

    assert tls_sim.get_run(hook.trigger("QUICK")).name == "QUICK"


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false_wins_over_requests_ca_bundle_in_the_environment(tls_sim, connect, monkeypatch):
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    hook = connect(tls_sim, verify=False)

    assert tls_sim.get_run(hook.trigger("QUICK")).name == "QUICK"


def test_ca_bundle_path_verifies_the_server_on_the_async_path(tls_sim, connect, certificate):
    run_id = connect(tls_sim, verify=certificate[0]).trigger("QUICK")

    status = run_on_loop(lambda: OFSSchedulerHook().aget_status(run_id))

    assert status.state in set(RunState)


def test_default_verification_refuses_a_self_signed_server_and_points_at_verify(tls_sim, connect):
    hook = connect(tls_sim, verify=True)

    with pytest.raises(OFSConnectionConfigError) as raised:
        hook.trigger("QUICK")

    assert "'verify'" in str(raised.value)
    assert repr("ofs_scheduler_default") in str(raised.value)
    assert tls_sim.journal.runs_created() == 0


def test_default_verification_refuses_a_self_signed_server_on_the_async_path(tls_sim, connect):
    connect(tls_sim, verify="true")

    with pytest.raises(OFSConnectionConfigError, match="'verify'"):
        run_on_loop(lambda: OFSSchedulerHook().aget_status("ANY_RUN"))


def test_tls_failure_is_not_retried(tls_sim, connect):
    hook = connect(tls_sim, verify=True, retry_attempts=5)

    with pytest.raises(OFSConnectionConfigError):
        hook.get_token()

    assert tls_sim.journal.token_requests() == 0  # the handshake failed: nothing reached the endpoint


def test_ca_bundle_path_that_does_not_exist_is_a_configuration_error(tls_sim, connect, tmp_path):
    hook = connect(tls_sim, verify=str(tmp_path / "missing-ca.pem"))

    with pytest.raises(OFSConnectionConfigError, match="'verify'"):
        hook.get_token()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false_works_and_warns_once(tls_sim, connect, logs):
    hook = connect(tls_sim, verify=False)

    run_id = hook.trigger("QUICK")
    hook.get_status(run_id)
    hook.get_status(run_id)

    warnings = insecure_warnings(logs)
    assert len(warnings) == 1
    assert repr("ofs_scheduler_default") in warnings[0]


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false_works_and_warns_once_on_the_async_path(tls_sim, connect, logs):
    run_id = connect(tls_sim, verify="false").trigger("QUICK")
    before = len(insecure_warnings(logs))

    async def poll_twice():
        hook = OFSSchedulerHook()
        await hook.aget_status(run_id)
        return await hook.aget_status(run_id)

    assert run_on_loop(poll_twice).run_id == run_id
    assert len(insecure_warnings(logs)) - before == 1


def test_verified_connection_logs_no_insecure_warning(tls_sim, connect, certificate, logs):
    connect(tls_sim, verify=certificate[0]).trigger("QUICK")

    assert insecure_warnings(logs) == []


def test_a_renewed_ca_bundle_at_the_same_path_is_used_by_the_async_path(ofs_simulator_factory, connect, tmp_path):
    import os
    import shutil

    old_cert, old_key = make_self_signed_cert(tmp_path / "old")
    new_cert, new_key = make_self_signed_cert(tmp_path / "new")
    before = ofs_simulator_factory(CATALOGUE, ssl_certfile=old_cert, ssl_keyfile=old_key)
    after = ofs_simulator_factory(CATALOGUE, ssl_certfile=new_cert, ssl_keyfile=new_key)  # the renewed site
    bundle = tmp_path / "ofs-ca.pem"
    shutil.copy(old_cert, bundle)
    before_id = connect(before, conn_id="ofs_before", verify=str(bundle)).trigger("QUICK")
    connect(after, conn_id="ofs_after", verify=str(bundle))

    async def poll_across_the_renewal():
        first = await OFSSchedulerHook("ofs_before").aget_status(before_id)
        shutil.copy(new_cert, bundle)  # the renewal: a new PEM at the same path
        stat = os.stat(bundle)
        os.utime(bundle, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        run_id = OFSSchedulerHook("ofs_after").trigger("QUICK")  # the sync path reads the file per connection
        second = await OFSSchedulerHook("ofs_after").aget_status(run_id)
        return first, second

    first, second = run_on_loop(poll_across_the_renewal)

    assert first.run_id == before_id
    assert second.state in set(RunState)


def _pem_of_width(pem: str, width: int) -> bytes:
    """The PEM file's bytes padded to ``width`` (OpenSSL ignores text outside the BEGIN/END lines)."""
    with open(pem, "rb") as file:
        return file.read().ljust(width - 1) + b"\n"


def _renew_in_place(bundle, new_pem: str) -> None:
    """Write ``new_pem`` over ``bundle``, keeping its size and modification time: stat() cannot tell them apart."""
    import os

    stat = os.stat(bundle)
    bundle.write_bytes(_pem_of_width(new_pem, stat.st_size))
    os.utime(bundle, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = os.stat(bundle)
    assert (after.st_size, after.st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)


def test_a_renewed_ca_bundle_of_the_same_size_and_mtime_is_used_by_the_async_path(
    ofs_simulator_factory, connect, tmp_path
):
    import os

    old_cert, old_key = make_self_signed_cert(tmp_path / "old")
    new_cert, new_key = make_self_signed_cert(tmp_path / "new")
    before = ofs_simulator_factory(CATALOGUE, ssl_certfile=old_cert, ssl_keyfile=old_key)
    after = ofs_simulator_factory(CATALOGUE, ssl_certfile=new_cert, ssl_keyfile=new_key)
    bundle = tmp_path / "ofs-ca.pem"
    bundle.write_bytes(_pem_of_width(old_cert, max(os.path.getsize(old_cert), os.path.getsize(new_cert)) + 1))
    before_id = connect(before, conn_id="ofs_before", verify=str(bundle)).trigger("QUICK")
    connect(after, conn_id="ofs_after", verify=str(bundle))

    async def poll_across_the_renewal():
        first = await OFSSchedulerHook("ofs_before").aget_status(before_id)
        _renew_in_place(bundle, new_cert)
        run_id = OFSSchedulerHook("ofs_after").trigger("QUICK")
        second = await OFSSchedulerHook("ofs_after").aget_status(run_id)
        return first, second

    first, second = run_on_loop(poll_across_the_renewal)

    assert first.run_id == before_id
    assert second.state in set(RunState)


def test_a_missing_ca_bundle_is_named_on_both_paths(tls_sim, connect, tmp_path):
    missing = str(tmp_path / "missing-ca.pem")
    hook = connect(tls_sim, verify=missing)

    with pytest.raises(OFSConnectionConfigError) as sync_error:
        hook.get_token()
    with pytest.raises(OFSConnectionConfigError) as async_error:
        run_on_loop(lambda: OFSSchedulerHook().aget_status("ANY_RUN"))

    for raised in (sync_error, async_error):
        assert missing in str(raised.value)
        assert "'verify'" in str(raised.value)
