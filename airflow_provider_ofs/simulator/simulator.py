"""``Simulator``: lifecycle (background thread or current loop), URLs, connection line, controls."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import ssl
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from airflow_provider_ofs.simulator.catalogue import PARAMS_FORMATS, Catalogue, load_catalogue
from airflow_provider_ofs.simulator.credentials import SimulatorCredentials
from airflow_provider_ofs.simulator.engine import RunView
from airflow_provider_ofs.simulator.faults import FaultAnswer
from airflow_provider_ofs.simulator.journal import Journal
from airflow_provider_ofs.simulator.server import TOKEN_PATH, build_app, normalise_prefix
from airflow_provider_ofs.simulator.state import SimulatorState

CONN_ENV_VAR = "AIRFLOW_CONN_OFS_SCHEDULER_DEFAULT"


class Simulator:
    """A local ESI + IAM token endpoint. ``start()`` serves it from a background thread."""

    def __init__(
        self,
        catalogue: Catalogue | Mapping[str, Any] | str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token_lifetime: int = 3600,
        speed: float = 1.0,
        slow_seconds: float = 5.0,
        credentials: SimulatorCredentials | None = None,
        ssl_certfile: str | Path | None = None,
        ssl_keyfile: str | Path | None = None,
        path_prefix: str = "",
        params_format: str | None = None,
        strict: bool | None = None,
    ) -> None:
        if (ssl_certfile is None) != (ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together")
        if params_format not in (None, *PARAMS_FORMATS):
            raise ValueError(f"params_format must be one of {PARAMS_FORMATS}, not {params_format!r}")
        self.catalogue = load_catalogue(catalogue)
        # The edition's dynamicParamList form and strictness: these arguments win over the catalogue's keys.
        self.catalogue = dataclasses.replace(
            self.catalogue,
            params_format=params_format or self.catalogue.params_format,
            strict=self.catalogue.strict if strict is None else strict,
        )
        self.credentials = credentials or SimulatorCredentials()
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self.speed = speed
        self.slow_seconds = slow_seconds
        self.ssl_certfile = str(ssl_certfile) if ssl_certfile else None
        self.ssl_keyfile = str(ssl_keyfile) if ssl_keyfile else None
        self.path_prefix = normalise_prefix(path_prefix)
        self.state = SimulatorState(
            self.catalogue,
            self.credentials,
            token_lifetime=token_lifetime,
            speed=speed,
            slow_seconds=slow_seconds,
        )
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start_async(self) -> None:
        """Start listening on the running event loop."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        runner = web.AppRunner(build_app(self.state, self.path_prefix), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port, ssl_context=self._ssl_context(), backlog=1024)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop_async(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def serve_forever(self) -> None:
        """Start, serve until cancelled, stop."""
        await self.start_async()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop_async()

    def start(self) -> Simulator:
        """Serve from a background thread with its own event loop; returns once listening."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # reported to start()'s caller
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop_async())
                loop.close()

        thread = threading.Thread(target=run, name="ofs-esi-simulator", daemon=True)
        thread.start()
        if not ready.wait(30):
            raise RuntimeError("the simulator did not start within 30 s")
        if errors:
            thread.join()
            raise errors[0]
        self._thread, self._loop = thread, loop
        return self

    def stop(self) -> None:
        """Stop the background server (idempotent)."""
        thread, loop = self._thread, self._loop
        self._thread = self._loop = None
        if thread is None or loop is None:
            return
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=15)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.ssl_certfile:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    # ------------------------------------------------------------------ addresses
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator is not started: no port yet")
        return self._port

    @property
    def root_url(self) -> str:
        """Scheme, host and port (where the token and admin endpoints live)."""
        scheme = "https" if self.ssl_certfile else "http"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Application base URL: what goes before ``/SchedulerService`` (the connection host)."""
        return self.root_url + self.path_prefix

    @property
    def token_url(self) -> str:
        return self.root_url + TOKEN_PATH

    @property
    def admin_url(self) -> str:
        return self.root_url + "/__admin__"

    def connection_dict(self, conn_type: str = "ofs_scheduler", **extra_overrides: Any) -> dict[str, Any]:
        creds = self.credentials
        extra: dict[str, Any] = {
            "iam_url": self.token_url,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "tenant_id": creds.tenant_id,
            "service_id": creds.service_id,
            "workspace_id": creds.workspace_id,
            "remote_user": creds.remote_user,
            "dynamic_params_format": self.catalogue.params_format,  # what this edition takes
            # the simulator's stand-in for the OFS Batch Monitor: a run's JSON picture on the admin endpoint
            "monitor_url": self.admin_url + "/runs/{run_id}",
            # below slow_seconds, so that the "slow" fault is a client timeout
            "timeout": max(1.0, round(self.slow_seconds / 2, 1)),
        }
        if self.ssl_certfile:
            extra["verify"] = self.ssl_certfile  # a self-signed certificate is its own CA bundle
        extra.update(extra_overrides)
        return {
            "conn_type": conn_type,
            "host": self.base_url,
            "login": creds.username,
            "password": creds.password,
            "extra": extra,
        }

    def connection_json(self, conn_type: str = "ofs_scheduler", **extra_overrides: Any) -> str:
        """JSON form of an Airflow connection to this simulator (``AIRFLOW_CONN_...`` value)."""
        return json.dumps(self.connection_dict(conn_type, **extra_overrides))

    def env_var_line(self) -> str:
        """``AIRFLOW_CONN_OFS_SCHEDULER_DEFAULT='<json>'``, quoted for a POSIX shell."""
        quoted = self.connection_json().replace("'", "'\\''")
        return f"{CONN_ENV_VAR}='{quoted}'"

    # ------------------------------------------------------------------ controls (thread-safe)
    def add_fault(self, verb: str, answers: Sequence[FaultAnswer], batch: str | None = None) -> None:
        """Serve ``answers`` in order to the next calls of ``verb`` (for ``batch`` when given)."""
        self.state.add_fault(verb, answers, batch)

    def expire_tokens(self) -> None:
        """Every access token issued so far becomes invalid: the next ESI call gets 401."""
        self.state.tokens.expire_access_tokens()

    def revoke_refresh_tokens(self) -> None:
        self.state.tokens.revoke_refresh_tokens()

    def reset(self) -> None:
        """Forget runs, faults and journal (the catalogue's faults are armed again)."""
        self.state.reset()

    @property
    def journal(self) -> Journal:
        return self.state.journal

    @property
    def runs(self) -> dict[str, RunView]:
        """Every run (group child runs included) as seen now."""
        return self.state.engine.all()

    def get_run(self, run_id: str) -> RunView:
        """One run as seen now; ``KeyError`` when unknown."""
        return self.state.engine.get(run_id)

    def release_held(self, run_id: str) -> RunView:
        """Test-only (no such ESI call): let the held tasks of a batch run execute."""
        return self.state.engine.release_held(run_id)

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not started"
        return f"Simulator({where}, speed={self.speed:g}, params_format={self.catalogue.params_format})"
