"""No password, client secret, access token or refresh token in any log line or error message, ever."""

from __future__ import annotations

import base64
import traceback

import pytest

from airflow_provider_ofs.exceptions import OFSConnectionConfigError, OFSSchedulerError
from airflow_provider_ofs.hooks import async_client, scheduler
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.simulator.credentials import SimulatorCredentials
from airflow_provider_ofs.tokens import TOKEN_CACHE
from tests.hook.conftest import CATALOGUE, run_on_loop

CREDENTIALS = SimulatorCredentials(
    client_id="ofs-client-7781",
    client_secret="CLIENT-SECRET-q8Zt1vX4",
    username="batch_user_7781",
    password="USER-PASSWORD-k2Jw9pL5",
)


class SecretLedger:
    """Every secret value the sequence handled, and every error text it produced."""

    def __init__(self) -> None:
        basic = base64.b64encode(f"{CREDENTIALS.client_id}:{CREDENTIALS.client_secret}".encode()).decode()
        self.secrets = {CREDENTIALS.password, CREDENTIALS.client_secret, basic}
        self.error_texts: list[str] = []

    def note_tokens(self, hook: OFSSchedulerHook) -> None:
        token = TOKEN_CACHE.fresh(hook.settings.cache_key)
        if token is not None:
            self.secrets.add(token.access_token)
            if token.refresh_token:
                self.secrets.add(token.refresh_token)

    def expect_error(self, call) -> None:
        with pytest.raises(OFSSchedulerError) as raised:
            call()
        error: BaseException | None = raised.value
        self.error_texts.append("".join(traceback.format_exception(raised.value)))
        while error is not None:
            self.error_texts.append(f"{error} {error!r}")
            error = error.__cause__ or error.__context__


@pytest.fixture
def unmasked(monkeypatch):
    """Turn masking off, so that a leak shows in the captured logs instead of being hidden by the masker."""
    monkeypatch.setattr(scheduler, "mask_secret", lambda secret, name=None: None)

    async def no_mask(secret, name=None):
        return None

    monkeypatch.setattr(async_client, "amask_secret", no_mask)


def test_a_full_sequence_never_shows_a_secret(ofs_simulator_factory, connect, logs, unmasked, client_clock):
    simulator = ofs_simulator_factory(CATALOGUE, credentials=CREDENTIALS, token_lifetime=300)
    ledger = SecretLedger()
    hook = connect(simulator, retry_attempts=2)

    # password grant, trigger, status
    run_id = hook.trigger("QUICK")
    hook.get_status(run_id)
    ledger.note_tokens(hook)
    # expired mid-sequence: 401, refresh grant, repeat
    simulator.expire_tokens()
    hook.get_status(run_id)
    ledger.note_tokens(hook)
    # near expiry with a revoked refresh token: refresh refused, password grant again
    simulator.revoke_refresh_tokens()
    client_clock.offset += 271
    hook.get_status(run_id)
    ledger.note_tokens(hook)
    # refused twice, API errors, transport failures, token outage
    simulator.add_fault("status", [401, 401])
    ledger.expect_error(lambda: hook.get_status(run_id))
    ledger.note_tokens(hook)
    ledger.expect_error(lambda: hook.get_status("NO_SUCH_RUN"))
    simulator.add_fault("trigger", ["reset_after"])
    ledger.expect_error(lambda: hook.trigger("QUICK"))
    ledger.note_tokens(hook)
    client_clock.offset += 271
    simulator.add_fault("token", [503, 503, 503])
    ledger.expect_error(lambda: OFSSchedulerHook().get_status(run_id))
    # the async path: expired token, refresh, and a second 401
    simulator.expire_tokens()
    run_on_loop(lambda: OFSSchedulerHook().aget_status(run_id))
    ledger.note_tokens(hook)
    simulator.add_fault("status", [401, 401])
    ledger.expect_error(lambda: run_on_loop(lambda: OFSSchedulerHook().aget_status(run_id)))
    ledger.note_tokens(hook)
    # wrong client secret and wrong password on other connections
    ledger.expect_error(
        lambda: connect(simulator, "ofs_bad_client", client_secret=CREDENTIALS.client_secret[::-1]).get_token()
    )
    ok, message = connect(
        simulator, "ofs_bad_client_2", client_secret=CREDENTIALS.client_secret + "x"
    ).test_connection()
    assert not ok
    ledger.error_texts.append(message)

    assert len(ledger.secrets) >= 9  # password, client secret, Basic value, and at least three token pairs
    assert any("Triggered OFS batch QUICK" in line for line in logs.messages()), "log capture saw nothing"
    assert any("retrying in" in line for line in logs.messages()), "retry warnings were not captured"
    everything = logs.text() + "\n".join(ledger.error_texts)
    leaked = sorted(secret for secret in ledger.secrets if secret in everything)
    assert leaked == [], "secrets appeared in logs or errors"


def test_settings_and_hook_reprs_show_no_secret(sim, connect):
    hook = connect(sim)
    hook.get_token()

    text = repr(hook.settings) + repr(TOKEN_CACHE.fresh(hook.settings.cache_key))

    assert sim.credentials.password not in text
    assert sim.credentials.client_secret not in text
    assert hook.get_token() not in text


def test_server_text_echoing_the_token_is_redacted_in_errors_on_both_paths(scripted_esi, connect_dict):
    token = "PRE-ISSUED-TOKEN-7f3a9"
    echo = {"statusCode": "-3", "status": "error", "summary": f"no run for token {token}", "details": "Bearer x.y.z"}
    host = scripted_esi([echo, echo])
    conn = host.connection()
    conn["extra"]["access_token"] = token
    hook = connect_dict(conn)

    with pytest.raises(OFSSchedulerError) as sync_error:
        hook.get_status("RUN_1")
    with pytest.raises(OFSSchedulerError) as async_error:
        run_on_loop(lambda: OFSSchedulerHook().aget_status("RUN_1"))

    for raised in (sync_error, async_error):
        assert "no run for token ***" in str(raised.value)
        assert token not in str(raised.value)
        assert "x.y.z" not in str(raised.value)


def both_paths(hook: OFSSchedulerHook) -> list:
    """A trigger on the sync path and a status poll on the async path, each expected to fail."""
    return [
        lambda: hook.trigger("QUICK"),
        lambda: run_on_loop(lambda: OFSSchedulerHook(hook.ofs_conn_id).aget_status("R")),
    ]


def test_a_host_with_a_user_and_password_is_a_config_error_on_both_paths(ofs_simulator_factory, connect_dict):
    simulator = ofs_simulator_factory(CATALOGUE, credentials=CREDENTIALS)
    conn = simulator.connection_dict()
    conn["host"] = conn["host"].replace("://", "://batch_user:HOST-PASSWORD-zz9@")
    hook = connect_dict(conn)

    for call in both_paths(hook):
        with pytest.raises(OFSConnectionConfigError, match="field 'host'") as raised:
            call()
        assert "HOST-PASSWORD-zz9" not in f"{raised.value} {raised.value!r}"
    assert len(simulator.journal) == 0  # nothing was sent, neither as Basic auth nor otherwise


def test_a_host_with_a_space_is_a_config_error_on_both_paths(ofs_simulator_factory, connect_dict):
    simulator = ofs_simulator_factory(CATALOGUE, credentials=CREDENTIALS)
    conn = simulator.connection_dict()
    conn["host"] = conn["host"].replace("127.0.0.1", "127.0.0.1 ")
    hook = connect_dict(conn)

    for call in both_paths(hook):
        with pytest.raises(OFSConnectionConfigError, match="field 'host'"):
            call()
    assert len(simulator.journal) == 0


def test_a_plain_script_is_told_where_airflow_3_keeps_stored_connections(monkeypatch):
    from airflow_provider_ofs._compat import IS_AIRFLOW_2
    from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook

    monkeypatch.delenv("AIRFLOW_CONN_OFS_SCRIPT_ONLY", raising=False)
    monkeypatch.delenv("AIRFLOW_CTX_DAG_ID", raising=False)  # what Airflow exports in a task's process

    with pytest.raises(OFSConnectionConfigError) as raised:
        OFSSchedulerHook(ofs_conn_id="ofs_script_only").get_status("R1")

    if IS_AIRFLOW_2:  # every process reads the database itself
        assert "Connection 'ofs_script_only' is not defined: add it" in str(raised.value)
    else:
        assert str(raised.value).startswith("Connection 'ofs_script_only' is not defined for this process")
        assert "only a task or the triggerer can read" in str(raised.value)
        assert "AIRFLOW_CONN_OFS_SCRIPT_ONLY" in str(raised.value)
