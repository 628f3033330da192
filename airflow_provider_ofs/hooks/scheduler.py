"""``OFSSchedulerHook``: the Airflow hook for the OFS External Scheduler Interface and its IAM tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_ofs._compat import BaseHook, mask_secret
from airflow_provider_ofs.arguments import DEFAULT_CONN_ID
from airflow_provider_ofs.connection_form import CONNECTION_FIELDS, HOOK_FIELD_BEHAVIOUR
from airflow_provider_ofs.exceptions import (
    OFSAlreadyInterruptedError,
    OFSApiError,
    OFSAuthenticationError,
    OFSSchedulerError,
)
from airflow_provider_ofs.hooks.requests_post import post
from airflow_provider_ofs.protocol import (
    ConnectionSettings,
    HttpRequest,
    HttpResponse,
    StatusPoll,
    Token,
    Verb,
    accepted_then_failed,
    build_probe,
    build_run_action,
    build_token_request,
    build_trigger,
    decode_answer,
    monitor_url_for,
    parse_token_answer,
    probe_verdict,
    run_id_from,
    token_clock,
    token_source,
    unauthorized,
)
from airflow_provider_ofs.retrying import retried
from airflow_provider_ofs.states import RunStatus
from airflow_provider_ofs.tokens import TOKEN_CACHE
from airflow_provider_ofs.transport import (
    REFRESH_REFUSED,
    defined_connection,
    proxy_chooser,
    settings_from_connection,
    warn_if_insecure,
)

if TYPE_CHECKING:
    import requests

    from airflow_provider_ofs.hooks.async_client import AsyncESIClient

T = TypeVar("T")


class OFSSchedulerHook(BaseHook):
    """Talk to the OFS External Scheduler Interface: trigger, status, interrupt, restart and rerun.

    Reads an ``ofs_scheduler`` connection, gets OAuth tokens from Oracle IAM (password grant, refresh
    grant, or the connection's pre-issued ``access_token``), caches them per process and retries as
    the README's "Retries and idempotency" says. Coroutines ``aget_status``/``ainterrupt`` do the same
    on an event loop (triggers).

    :param ofs_conn_id: the Airflow connection to use (type ``ofs_scheduler``).
    """

    conn_name_attr = "ofs_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "ofs_scheduler"
    hook_name = "OFS External Scheduler"

    def __init__(self, ofs_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ofs_conn_id = ofs_conn_id
        self._async_client: AsyncESIClient | None = None

    # ------------------------------------------------------------------------------ connection form

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel and hide the standard connection fields (Airflow 2.11 to 3.1; 3.2+ reads the provider info)."""
        return HOOK_FIELD_BEHAVIOUR

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra connection form fields for the Airflow 2.11 UI, built from the same field list as 3.x.

        A field whose schema type has no ``null`` is required, a ``default`` fills it, and an ``enum`` is
        checked on save (2.11 takes text, password, number and checkbox fields only: no choice list).
        """
        try:
            from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
            from flask_babel import lazy_gettext
            from wtforms import PasswordField, StringField
            from wtforms.validators import InputRequired, Optional, any_of  # the names Airflow 3.0-3.1 mock
        except ImportError:  # Airflow 3 without FAB: the UI reads conn-fields from the provider info
            return {}
        widgets: dict[str, Any] = {}
        for name, spec in CONNECTION_FIELDS.items():
            schema = spec["schema"]
            validators: list[Any] = [Optional() if "null" in schema["type"] else InputRequired()]
            if "enum" in schema:
                validators.append(any_of(schema["enum"]))
            password = schema.get("format") == "password"
            widgets[name] = (PasswordField if password else StringField)(
                lazy_gettext(spec["label"]),
                description=spec.get("description"),
                validators=validators,
                default=schema.get("default"),
                widget=BS3PasswordFieldWidget() if password else BS3TextFieldWidget(),
            )
        return widgets

    # ------------------------------------------------------------------------------------- settings

    @cached_property
    def settings(self) -> ConnectionSettings:
        """The connection's fields, validated (missing fields raise an error naming them)."""
        with defined_connection(self.ofs_conn_id):
            conn = self.get_connection(self.ofs_conn_id)
        return settings_from_connection(self.ofs_conn_id, conn, conn.extra_dejson)

    @cached_property
    def session(self) -> requests.Session:
        """One keep-alive HTTP session for every call this hook makes."""
        import requests  # not at module level: parsing a DAG file never sends a request (about 45 ms of imports)

        warn_if_insecure(self.settings, self.log)
        session = requests.Session()
        session.verify = self.settings.verify
        # Nothing from the environment behind our back (proxies, netrc credentials, CA bundles): the proxy is
        # chosen per request by ``protocol.proxy_for``, the same rule as the async path's.
        session.trust_env = False
        return session

    @cached_property
    def _proxy(self) -> Callable[[str], str | None]:
        return proxy_chooser(self.settings)

    # --------------------------------------------------------------------------------- public calls

    def trigger(
        self,
        batch_name: str,
        batch_type: str = "batch",
        excluded_tasks: str | Iterable[str] | None = None,
        held_tasks: str | Iterable[str] | None = None,
        dynamic_params: str | Mapping[str, Any] | None = None,
        included_tasks: str | Iterable[str] | None = None,
    ) -> str:
        """Start a batch (``batch_type="batch"``) or batch group (``"group"``); return the new run id.

        ``dynamic_params`` is a mapping in the wire shape, ``{"batchParams": {...}, "taskRuntimeParams":
        {"<TASK>": {...}}}`` (for a group: batch code → that), or an already encoded ``dynamicParamList``
        string; it is sent as the connection's ``dynamic_params_format`` says. Any other type raises
        ``TypeError`` before anything is sent. ``included_tasks`` (codes, a list or comma-separated text)
        is sent as ``includedTasks`` only when given: editions whose trigger takes it run only those.
        """
        request = build_trigger(
            self.settings, batch_name, batch_type, excluded_tasks, held_tasks, dynamic_params, included_tasks
        )
        subject = f"{batch_type} {batch_name}"
        run_id = self._accepted_run_id(self._call(request, subject, self._decode), Verb.TRIGGER, subject)
        self._log_accepted(Verb.TRIGGER, subject, run_id, "Triggered OFS %s %s: run id %s", batch_type, batch_name)
        return run_id

    def get_status(self, batch_run_id: str, tasks: Sequence[str] | None = None) -> RunStatus:
        """The state of a run, with its task states (batch) or child runs (group)."""
        poll = StatusPoll(self.settings, batch_run_id, tasks)
        return self._call(poll.request, f"run {batch_run_id}", poll.read)

    def interrupt(self, batch_name: str, batch_run_id: str) -> None:
        """Interrupt a run; a run that is already interrupted (code -7) counts as done."""
        request = build_run_action(self.settings, Verb.INTERRUPT, batch_name, batch_run_id)
        try:
            self._call(request, f"run {batch_run_id} of {batch_name}", self._decode)
        except OFSAlreadyInterruptedError:
            self.log.info("OFS run %s was already interrupted (code -7); nothing to do", batch_run_id)
            return
        self.log.info("Interrupted OFS run %s of %s", batch_run_id, batch_name)

    def restart(self, batch_name: str, batch_run_id: str) -> str:
        """Restart a failed or interrupted run (only what did not succeed runs again); return the id to watch."""
        return self._run_action(Verb.RESTART, batch_name, batch_run_id)

    def rerun(self, batch_name: str, batch_run_id: str) -> str:
        """Run a completed run again from the beginning; return the id to watch (it may be a new one)."""
        return self._run_action(Verb.RERUN, batch_name, batch_run_id)

    def monitor_url(self, batch_run_id: str, batch_name: str) -> str | None:
        """The run's page in the OFS Batch Monitor, from the connection's ``monitor_url``; ``None`` without one."""
        return monitor_url_for(self.settings, batch_run_id, batch_name)

    def get_token(self) -> str:
        """A valid access token for this connection, from the per-process cache when possible."""
        return self._token().access_token

    def test_connection(self) -> tuple[bool, str]:
        """Check what the tasks will use, on both transports: the fields, a token from IAM, a call to ESI.

        The worker's path (requests) and the triggerer's (aiohttp) each obtain a token and reach ESI with
        the connection's TLS and proxy settings, so the test is green only when both would work. Messages
        name no connection id: Airflow's UI tests a copy under a made-up one.
        """
        try:
            settings = self.settings
            self.get_token()
            answer = self._probe_esi()
            self._probe_deferrable_path()
        except OFSSchedulerError as error:
            return False, _without_conn_id(str(error), self.ofs_conn_id)
        except Exception as error:
            return False, _without_conn_id(f"{type(error).__name__}: {error}", self.ofs_conn_id)
        source = "pre-issued access token" if settings.access_token else f"token from {settings.iam_url}"
        return True, (
            f"Connection is usable: {source}; ESI at {settings.base_url} {answer}; "
            f"the deferrable path (triggerer) reached both too"
        )

    def _probe_esi(self) -> str:
        """One status call (no retries) for a run id that cannot exist; any API answer but -5 proves the set-up."""
        try:
            self._exchange(build_probe(self.settings), self._decode)
        except OFSApiError as refusal:
            return probe_verdict(refusal)
        return probe_verdict(None)

    def _probe_deferrable_path(self) -> None:
        """The same checks through the async client, on an event loop of its own in another thread."""
        from airflow_provider_ofs.hooks.async_client import AsyncESIClient, close_shared_sessions

        async def probe() -> None:
            try:
                await AsyncESIClient(self.settings, self.log).probe()
            finally:
                await close_shared_sessions()

        with ThreadPoolExecutor(max_workers=1) as thread:  # whatever loop this thread may be running
            thread.submit(asyncio.run, probe()).result()

    # ------------------------------------------------------------------------------- async (triggers)

    async def aget_status(self, batch_run_id: str, tasks: Sequence[str] | None = None) -> RunStatus:
        """``get_status`` on an event loop, through the loop's shared aiohttp session.

        Meant to be polled: asked about the same run again, the hook reuses its request, and an answer equal
        to the previous one is not decoded again (it returns the previous ``RunStatus``).
        """
        client = self._async_client or await self._client()
        return await client.get_status(batch_run_id, tasks)

    async def ainterrupt(self, batch_name: str, batch_run_id: str) -> None:
        """``interrupt`` on an event loop; an already interrupted run counts as done."""
        await (await self._client()).interrupt(batch_name, batch_run_id)

    async def _client(self) -> AsyncESIClient:
        if self._async_client is None:
            from airflow_provider_ofs.hooks.async_client import AsyncESIClient, aload_settings

            self._async_client = AsyncESIClient(await aload_settings(self.ofs_conn_id, self), self.log)
        return self._async_client

    # ------------------------------------------------------------------------------------- plumbing

    def _run_action(self, verb: Verb, batch_name: str, batch_run_id: str) -> str:
        request = build_run_action(self.settings, verb, batch_name, batch_run_id)
        subject = f"run {batch_run_id} of {batch_name}"
        run_id = self._accepted_run_id(self._call(request, subject, self._decode), verb, subject)
        message = "OFS %s of run %s (%s): watch run id %s"
        self._log_accepted(verb, subject, run_id, message, verb.value, batch_run_id, batch_name)
        return run_id

    def _accepted_run_id(self, envelope: Mapping[str, Any], verb: Verb, subject: str) -> str:
        """The run id of an accepted trigger, restart or rerun; an unusable one is ``OFSOutcomeUnknownError``."""
        return run_id_from(envelope, verb.value, subject, self.settings.secrets)

    def _log_accepted(self, verb: Verb, subject: str, run_id: str, message: str, *args: Any) -> None:
        """Log an accepted call (``run_id`` last); a log that fails now, after OFS acted, fails without retry."""
        try:
            self.log.info(message, *args, run_id)
        except Exception as error:
            raise accepted_then_failed(verb.value, subject, run_id, error) from error

    def _decode(self, response: HttpResponse, verb: str) -> dict[str, Any]:
        """``decode_answer`` with the connection's secrets redacted from any server text it quotes."""
        return decode_answer(response, verb, self.settings.secrets)

    def _call(self, request: HttpRequest, subject: str, read: Callable[[HttpResponse, str], T]) -> T:
        return retried(lambda: self._exchange(request, read), request, self.settings, self.log, subject)

    def _exchange(self, request: HttpRequest, read: Callable[[HttpResponse, str], T]) -> T:
        """One ESI call with a bearer token, its answer read by ``read(answer, verb)``.

        A 401 refreshes the token once and repeats once. Reading happens inside the attempt, so an answer
        that cannot be read is retried like any other transient failure, where the retry rule allows it.
        """
        token = self._token()
        response = self._send(request.with_bearer(token.access_token))
        if response.status == 401:
            TOKEN_CACHE.invalidate(self.settings.cache_key, token)
            response = self._send(request.with_bearer(self._token().access_token))
            if response.status == 401:
                raise unauthorized(self.settings, request.verb)
        return read(response, request.verb)

    def _token(self) -> Token:
        return TOKEN_CACHE.get(self.settings.cache_key, self._fetch_token)

    def _fetch_token(self, stale: Token | None) -> Token:
        source = token_source(self.settings, stale)
        if isinstance(source, Token):
            return source
        *refusable, last = source
        for refresh_token in refusable:
            try:
                return self._request_token(refresh_token)
            except OFSAuthenticationError:
                self.log.info(REFRESH_REFUSED, self.ofs_conn_id)
        return self._request_token(last)

    def _request_token(self, refresh_token: str | None) -> Token:
        request = build_token_request(self.settings, refresh_token)
        token = retried(
            lambda: self._token_answer(request),
            request,
            self.settings,
            self.log,
            f"connection {self.ofs_conn_id!r}",
        )
        mask_secret(token.access_token)
        if token.refresh_token:
            mask_secret(token.refresh_token)
        return token

    def _token_answer(self, request: HttpRequest) -> Token:
        sent = token_clock()  # the token's lifetime counts from when it was asked for
        return parse_token_answer(self._send(request), self.settings, now=sent)

    def _send(self, request: HttpRequest) -> HttpResponse:
        """One POST through this hook's session (``requests_post.post``)."""
        proxy = self._proxy(request.url)  # before the session: a bad proxy setting fails first, as it always did
        return post(self.session, self.settings, request, proxy)


def _without_conn_id(message: str, conn_id: str) -> str:
    """A message about a connection, without its id (``test_connection`` runs on a copy with a made-up one)."""
    return message.replace(f"Connection {conn_id!r}: ", "").replace(f" of connection {conn_id!r}", "")
