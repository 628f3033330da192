"""aiohttp application: the IAM token endpoint, the five ESI verbs and the ``/__admin__/`` controls.

Injected faults (faults.py) come first, as a network or gateway would. Then the ESI checks run in
this order: bearer token (HTTP 401, ESI-NOTES 13), identity headers (-5),
JSON body and fields (-4), then existence (-3) and the verb's own rules. Every answer carries the
envelope ``status``/``severity``/``statusCode`` with codes as strings (ESI-NOTES 1, 3); error
answers use differing HTTP statuses so that clients decide from the body (ESI-NOTES 3).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import hmac
import json
import logging
import re
import socket
import struct
from typing import Any

from aiohttp import web

from airflow_provider_ofs.simulator.codes import (
    API_HTTP_STATUS,
    API_MEANINGS,
    ApiCode,
    EsiError,
    wire,
)
from airflow_provider_ofs.simulator.engine import RunView
from airflow_provider_ofs.simulator.faults import BAD_RUN_IDS, MISSING, PROCESSED_KINDS, FaultAnswer
from airflow_provider_ofs.simulator.journal import JournalEntry
from airflow_provider_ofs.simulator.protocol import (
    decode_body,
    parse_run_action,
    parse_status,
    parse_trigger,
)
from airflow_provider_ofs.simulator.state import SimulatorState
from airflow_provider_ofs.simulator.tokens import scope_words

log = logging.getLogger("airflow_provider_ofs.simulator")

TOKEN_PATH = "/oauth2/v1/token"
ESI_PATH = "/SchedulerService/rest-api/v1/external"
ADMIN_PATH = "/__admin__"
VERBS = ("trigger", "status", "interrupt", "restart", "rerun")
LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}[-_][A-Za-z]{2}$")
STATE_KEY = web.AppKey("state", SimulatorState)

_HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>{status} {reason}</title></head>"
    "<body><h1>{status} {reason}</h1><p>The server is temporarily unable to service your request.</p>"
    "<hr><address>OFS ESI simulator (injected fault)</address></body></html>"
)


# --------------------------------------------------------------------------- small helpers
def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)


def envelope(code: ApiCode, summary: str, details: str | None = None, **fields: Any) -> dict[str, Any]:
    """The answer envelope of every ESI call."""
    ok = code is ApiCode.SUCCESS
    if ok:
        status = "success"
    elif code in (ApiCode.NOT_FOUND, ApiCode.INVALID_ARGUMENTS, ApiCode.INVALID_HEADERS):
        status = "error"
    else:
        status = "failure"
    return {
        "status": status,
        "severity": "info" if ok else "error",
        "statusCode": wire(code),
        "summary": summary,
        "details": details or API_MEANINGS[code],
        **fields,
    }


def _with_run_id(response: web.Response, run_id: object) -> web.Response:
    """The same success answer with ``batchRunId`` replaced (``MISSING``: left out), for ``bad_run_id`` faults."""
    body = json.loads(response.text or "{}")
    body.pop("batchRunId", None)
    if run_id is not MISSING:
        body["batchRunId"] = run_id
    return _json(response.status, body)


def _drop_connection(request: web.Request) -> None:
    """Close the TCP connection with a reset and no answer."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # platform dependent: then a plain close
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def fault_response(answer: FaultAnswer, *, retry_after: bool = True) -> web.Response:
    """The answer of an injected fault that replaces processing (status numbers, html, garbage).

    A 429 says ``Retry-After: 1`` when ``retry_after`` is set (ESI), and nothing (the token endpoint: Oracle
    IAM throttles without it, ESI-NOTES 18) otherwise.
    """
    if isinstance(answer, int):
        reason = _reason(answer)
        if answer == 429:
            return _json(
                429,
                {"error": "Too Many Requests", "message": "rate limit exceeded"},
                headers={"Retry-After": "1"} if retry_after else None,
            )
        if answer in (502, 503, 504):  # what a gateway or load balancer sends
            return web.Response(
                status=answer, text=_HTML_PAGE.format(status=answer, reason=reason), content_type="text/html"
            )
        return _json(answer, {"error": reason, "message": "injected fault"})
    if answer == "api_failure":
        return _json(200, envelope(ApiCode.FAILURE, "The request could not be processed (injected fault)"))
    if answer == "html":
        return web.Response(status=200, text=_HTML_PAGE.format(status=200, reason="OK"), content_type="text/html")
    # "garbage": announced as JSON, but cut in the middle.
    return web.Response(status=200, text='{"severity": "info", "status": "succ', content_type="application/json")


def _reason(status: int) -> str:
    try:
        from http import HTTPStatus

        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _status_fields(view: RunView) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "batchRunId": view.run_id,
        "batchStatusCode": wire(view.state),
        "batchStatus": view.state.text,
    }
    if view.kind == "group":  # ESI-NOTES 12: child runs in batchList, no taskStatusList
        fields["batchList"] = [
            {"batchRunId": run_id, "batchStatusCode": wire(state), "batchStatus": state.text}
            for run_id, state in view.children
        ]
    else:
        fields["taskStatusList"] = [
            {"taskCode": code, "taskStatus": state.text, "statusCode": wire(state)} for code, state in view.tasks
        ]
        fields["batchList"] = []
    return fields


# --------------------------------------------------------------------------- ESI
class EsiHandler:
    """Handles ``POST {prefix}/SchedulerService/rest-api/v1/external/{verb}``."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        verb = request.match_info["verb"]
        raw = await request.read()
        batch = self.state.fault_batch(verb, raw)
        fault = self.state.faults.take(verb, batch)
        if fault is not None and fault not in PROCESSED_KINDS:
            return self._serve_fault(request, verb, batch, fault)
        response, entry = self._process(request, verb, raw, batch)
        return await self._answer(request, response, entry, fault)

    def _serve_fault(
        self, request: web.Request, verb: str, batch: str | None, fault: FaultAnswer
    ) -> web.StreamResponse:
        status = fault if isinstance(fault, int) else (None if fault == "reset" else 200)
        code = wire(ApiCode.FAILURE) if fault == "api_failure" else None
        self._record(JournalEntry(verb=verb, batch=batch, http_status=status, api_status_code=code, fault=str(fault)))
        if fault == "reset":
            _drop_connection(request)
            return web.Response(status=204)  # never written: the transport is gone
        return fault_response(fault)

    async def _answer(
        self, request: web.Request, response: web.Response, entry: JournalEntry, fault: FaultAnswer | None
    ) -> web.StreamResponse:
        if fault == "reset_after":
            self._record(dataclasses.replace(entry, http_status=None, fault="reset_after"))
            _drop_connection(request)
            return response
        if fault == "slow":
            self._record(dataclasses.replace(entry, fault="slow"))
            await asyncio.sleep(self.state.slow_seconds)
            return response
        succeeded = entry.api_status_code == wire(ApiCode.SUCCESS)
        if isinstance(fault, str) and fault.startswith("bad_run_id:") and succeeded:
            self._record(dataclasses.replace(entry, fault=fault))
            return _with_run_id(response, BAD_RUN_IDS[fault.partition(":")[2]])
        self._record(entry)
        return response

    def _record(self, entry: JournalEntry) -> None:
        self.state.journal.record(entry)
        log.debug(
            "%s batch=%s run=%s -> HTTP %s statusCode=%s%s",
            entry.verb,
            entry.batch,
            entry.run_id,
            entry.http_status if entry.http_status is not None else "(no answer)",
            entry.api_status_code,
            f" [fault {entry.fault}]" if entry.fault else "",
        )

    def _process(
        self, request: web.Request, verb: str, raw: bytes, batch: str | None
    ) -> tuple[web.Response, JournalEntry]:
        if not self._authorised(request):
            body = {"error": "invalid_token", "error_description": "Missing, unknown or expired bearer token"}
            headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            return _json(401, body, headers), JournalEntry(verb=verb, batch=batch, http_status=401)
        run_id: str | None = None
        view = None
        try:
            self._check_headers(request)
            if request.content_type != "application/json":
                raise EsiError(ApiCode.INVALID_ARGUMENTS, "Content-Type must be application/json")
            body = decode_body(raw)
            answer, view = self._dispatch(verb, body)
            run_id, batch = view.run_id, view.name
            code = ApiCode.SUCCESS
        except EsiError as exc:
            code = exc.code
            answer = envelope(code, f"{API_MEANINGS[code]}: {exc.message}", exc.message)
        status = API_HTTP_STATUS[code]
        entry = JournalEntry(
            verb=verb, batch=batch, run_id=run_id, http_status=status, api_status_code=wire(code), answered=view
        )
        return _json(status, answer), entry

    def _authorised(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and bool(token.strip()) and self.state.tokens.is_valid(token.strip())

    def _check_headers(self, request: web.Request) -> None:
        creds = self.state.credentials
        expected = {
            "ofs_tenant_id": creds.tenant_id,
            "ofs_service_id": creds.service_id,
            "ofs_workspace_id": creds.workspace_id,
            "ofs_remote_user": creds.remote_user,
        }
        for name, value in expected.items():
            given = request.headers.get(name)
            if not given:
                raise EsiError(ApiCode.INVALID_HEADERS, f"Request header {name} is missing")
            if given != value:
                raise EsiError(ApiCode.INVALID_HEADERS, f"Request header {name} is not valid for this tenant")
        locale = request.headers.get("locale")
        if not locale:
            raise EsiError(ApiCode.INVALID_HEADERS, "Request header locale is missing")
        if not LOCALE_RE.match(locale):
            raise EsiError(ApiCode.INVALID_HEADERS, "Request header locale must look like en-US")

    def _dispatch(self, verb: str, body: dict[str, Any]) -> tuple[dict[str, Any], RunView]:
        engine = self.state.engine
        if verb == "trigger":
            view = engine.trigger(parse_trigger(body, self.state.catalogue))
            summary = f"Object triggered successfully with Run Id: {view.run_id}"
            return envelope(ApiCode.SUCCESS, summary, "Object triggered successfully.", batchRunId=view.run_id), view
        if verb == "status":
            request = parse_status(body)
            view = engine.status(request.run_id, request.tasks)
            summary = f"Status of Run Id: {view.run_id} is {view.state.text}"
            return envelope(ApiCode.SUCCESS, summary, "Status fetched successfully.", **_status_fields(view)), view
        action = parse_run_action(body)
        if verb == "interrupt":
            view = engine.interrupt(action.name, action.run_id)
            details = "Execution interrupted successfully."
            return envelope(ApiCode.SUCCESS, details, details, batchRunId=view.run_id), view
        if verb == "restart":
            view = engine.restart(action.name, action.run_id)
            summary = f"Object triggered successfully for restart with Run Id: {view.run_id}"
        else:
            view = engine.rerun(action.name, action.run_id)
            summary = f"Object triggered successfully for rerun with Run Id: {view.run_id}"
        return envelope(ApiCode.SUCCESS, summary, "Object triggered successfully.", batchRunId=view.run_id), view


# --------------------------------------------------------------------------- IAM token endpoint
class TokenHandler:
    """``POST /oauth2/v1/token``: password and refresh_token grants, Basic client authentication."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        grant = form.get("grant_type")
        grant_name = grant if isinstance(grant, str) else None
        fault = self.state.faults.take("token", None)
        if fault is not None and fault not in PROCESSED_KINDS:
            status = fault if isinstance(fault, int) else (None if fault == "reset" else 200)
            self._record(grant_name, status, fault)
            if fault == "reset":
                _drop_connection(request)
                return web.Response(status=204)
            return fault_response(fault, retry_after=False)
        status, body, headers = self._process(request, grant_name, form)
        response = _json(status, body, {"Cache-Control": "no-store", "Pragma": "no-cache", **headers})
        if fault == "reset_after":
            self._record(grant_name, None, fault)
            _drop_connection(request)
        elif fault == "slow":
            self._record(grant_name, status, fault)
            await asyncio.sleep(self.state.slow_seconds)
        else:
            self._record(grant_name, status, None)
        return response

    def _record(self, grant: str | None, status: int | None, fault: FaultAnswer | None) -> None:
        self.state.journal.record(
            JournalEntry(verb="token", grant=grant, http_status=status, fault=None if fault is None else str(fault))
        )
        log.debug(
            "token grant=%s -> HTTP %s%s",
            grant,
            status if status is not None else "(no answer)",
            f" [fault {fault}]" if fault is not None else "",
        )

    def _client_ok(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, sep, secret = decoded.partition(":")
        creds = self.state.credentials
        return bool(sep) and _same(client_id, creds.client_id) and _same(secret, creds.client_secret)

    def _process(
        self, request: web.Request, grant: str | None, form: Any
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not self._client_ok(request):
            error = {"error": "invalid_client", "error_description": "Client authentication failed."}
            return 401, error, {"WWW-Authenticate": 'Basic realm="oauth"'}
        creds = self.state.credentials
        if grant == "password":
            username, password = form.get("username"), form.get("password")
            if not (isinstance(username, str) and isinstance(password, str)):
                return 400, {"error": "invalid_request", "error_description": "username and password are required"}, {}
            if not (_same(username, creds.username) and _same(password, creds.password)):
                return 400, {"error": "invalid_grant", "error_description": "Invalid user name or password."}, {}
            issued = self.state.tokens.issue(scope_words(_text(form, "scope")))
        elif grant == "refresh_token":
            refresh = _text(form, "refresh_token")
            granted = self.state.tokens.granted_scope(refresh) if refresh else None
            if granted is None:
                return 400, {"error": "invalid_grant", "error_description": "Invalid or expired refresh token."}, {}
            asked = scope_words(_text(form, "scope"))
            if not asked <= granted:  # RFC 6749 6: a refresh may narrow the scope, never widen it
                wider = " ".join(sorted(asked - granted))
                return 400, {"error": "invalid_scope", "error_description": f"Scope not granted: {wider}"}, {}
            issued_or_none = self.state.tokens.refresh(refresh)
            if issued_or_none is None:
                return 400, {"error": "invalid_grant", "error_description": "Invalid or expired refresh token."}, {}
            issued = issued_or_none
        elif grant is None:
            return 400, {"error": "invalid_request", "error_description": "grant_type is required"}, {}
        else:
            return 400, {"error": "unsupported_grant_type", "error_description": f"{grant} is not supported"}, {}
        body: dict[str, Any] = {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
        }
        if issued.refresh_token is not None:
            body["refresh_token"] = issued.refresh_token
        return 200, body, {}


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


# --------------------------------------------------------------------------- admin
class AdminHandlers:
    """``/__admin__/``: the control methods of ``Simulator`` over HTTP (loopback use only)."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{ADMIN_PATH}/health", self.health),
            web.get(f"{ADMIN_PATH}/faults", self.get_faults),
            web.post(f"{ADMIN_PATH}/faults", self.add_fault),
            web.get(f"{ADMIN_PATH}/journal", self.journal),
            web.post(f"{ADMIN_PATH}/expire-tokens", self.expire_tokens),
            web.post(f"{ADMIN_PATH}/revoke-refresh-tokens", self.revoke_refresh_tokens),
            web.post(f"{ADMIN_PATH}/reset", self.reset),
            web.get(f"{ADMIN_PATH}/runs", self.runs),
            web.post(f"{ADMIN_PATH}/runs", self.start_run),
            web.get(f"{ADMIN_PATH}/runs/{{run_id}}", self.run),
            web.post(f"{ADMIN_PATH}/release-held", self.release_held),
        ]

    async def health(self, request: web.Request) -> web.Response:
        return _json(200, {"status": "ok"})

    async def get_faults(self, request: web.Request) -> web.Response:
        return _json(200, {"faults": self.state.faults.pending()})

    async def add_fault(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("body must be an object {verb, batch, answers}")
            self.state.add_fault(body.get("verb"), body.get("answers"), body.get("batch"))  # type: ignore[arg-type]
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            return _json(400, {"error": str(exc)})
        return _json(200, {"ok": True, "faults": self.state.faults.pending()})

    async def journal(self, request: web.Request) -> web.Response:
        return _json(200, {"journal": self.state.journal.as_list()})

    async def expire_tokens(self, request: web.Request) -> web.Response:
        self.state.tokens.expire_access_tokens()
        return _json(200, {"ok": True})

    async def revoke_refresh_tokens(self, request: web.Request) -> web.Response:
        self.state.tokens.revoke_refresh_tokens()
        return _json(200, {"ok": True})

    async def reset(self, request: web.Request) -> web.Response:
        self.state.reset()
        return _json(200, {"ok": True})

    async def runs(self, request: web.Request) -> web.Response:
        return _json(200, {"runs": [run_as_dict(view) for view in self.state.engine.all().values()]})

    async def start_run(self, request: web.Request) -> web.Response:
        """Start a run as OFS's own scheduler would, with a trigger call's body (``batchType`` ``rest`` by default).

        It is no ESI call, so the journal does not record it: a client that triggered nothing shows none.
        """
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("body must be an object {batchName, batchType}")
            view = self.state.engine.trigger(parse_trigger({"batchType": "rest", **body}, self.state.catalogue))
        except (ValueError, EsiError) as exc:  # json.JSONDecodeError is a ValueError
            return _json(400, {"error": str(exc)})
        return _json(201, run_as_dict(view))

    async def run(self, request: web.Request) -> web.Response:
        try:
            view = self.state.engine.get(request.match_info["run_id"])
        except KeyError:
            return _json(404, {"error": "unknown run id"})
        return _json(200, run_as_dict(view))

    async def release_held(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            view = self.state.engine.release_held(str(body["batchRunId"]))
        except (ValueError, KeyError, TypeError, EsiError) as exc:
            return _json(400, {"error": str(exc)})
        return _json(200, run_as_dict(view))


def run_as_dict(view: RunView) -> dict[str, Any]:
    """JSON-friendly picture of a run for the admin endpoint."""
    return {
        "batchRunId": view.run_id,
        "name": view.name,
        "kind": view.kind,
        "state": view.state.text,
        "stateCode": int(view.state),
        "tasks": [{"taskCode": c, "state": s.text, "stateCode": int(s)} for c, s in view.tasks],
        "children": [{"batchRunId": r, "state": s.text, "stateCode": int(s)} for r, s in view.children],
        "misDate": view.mis_date,
        "params": view.params,
        "attempt": view.attempt,
        "parent": view.parent,
    }


def build_app(state: SimulatorState, path_prefix: str = "") -> web.Application:
    """The application; ``path_prefix`` applies to ESI only (the token endpoint is at the root)."""
    app = web.Application(client_max_size=1024 * 1024)
    app[STATE_KEY] = state
    esi = EsiHandler(state)
    # Bound ``__call__`` methods: aiohttp deprecates handlers that are not coroutine functions (callable objects).
    app.router.add_post(TOKEN_PATH, TokenHandler(state).__call__)
    app.router.add_post(f"{path_prefix}{ESI_PATH}/{{verb:(?:{'|'.join(VERBS)})}}", esi.__call__)
    app.router.add_routes(AdminHandlers(state).routes())
    return app


def normalise_prefix(path_prefix: str) -> str:
    """``"app/"`` -> ``"/app"``; ``""`` and ``"/"`` -> ``""``."""
    stripped = path_prefix.strip().strip("/")
    return f"/{stripped}" if stripped else ""
