"""Command line: ``ofs-esi-simulator`` / ``python -m airflow_provider_ofs.simulator``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from airflow_provider_ofs.simulator.catalogue import CatalogueError
from airflow_provider_ofs.simulator.simulator import Simulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ofs-esi-simulator",
        description="Local stand-in for the OFS External Scheduler Interface and its IAM token endpoint.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8089, help="port (default 8089; 0 = any free port)")
    parser.add_argument("--catalogue", "--catalog", metavar="FILE", help="catalogue (JSON, or YAML with PyYAML)")
    parser.add_argument("--token-lifetime", type=int, default=3600, metavar="SECONDS", help="access token life")
    parser.add_argument("--speed", type=float, default=1.0, help="time scale: task durations are divided by it")
    parser.add_argument("--slow-seconds", type=float, default=5.0, help="delay of the 'slow' fault answer (default 5)")
    parser.add_argument("--certfile", help="PEM certificate: serve HTTPS")
    parser.add_argument("--keyfile", help="PEM private key of --certfile")
    parser.add_argument("--path-prefix", default="", help="path before /SchedulerService, e.g. /app")
    parser.add_argument(
        "--params-format",
        choices=("string", "object"),
        help="the edition's dynamicParamList: a JSON-encoded string (the guide's, default) or a JSON object; "
        "the other form is refused with -4 (overrides the catalogue's params_format)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        default=None,
        help="refuse what a real tenant might refuse too, e.g. the misspelt FICMISDATE$ key (-4)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser


def _log_requests(*, quiet: bool) -> None:
    """One line per request on stderr (the journal never holds a secret or a token).

    Our own handler, not propagated: importing the parent package may configure Airflow's logging.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("airflow_provider_ofs.simulator")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.WARNING if quiet else logging.DEBUG)


async def _serve(simulator: Simulator) -> None:
    await simulator.start_async()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"OFS ESI simulator listening on {simulator.base_url}")
    print(f"  token endpoint: {simulator.token_url}")
    print(f"  admin endpoint: {simulator.admin_url}/")
    strict = ", strict" if simulator.catalogue.strict else ""
    print(f"  dynamicParamList: {simulator.catalogue.params_format} edition{strict}")
    print(simulator.catalogue.describe())
    print("# Airflow connection (prefix with 'export ' to use it in this shell):")
    print(simulator.env_var_line(), flush=True)
    try:
        await stop.wait()
    finally:
        await simulator.stop_async()
        print("OFS ESI simulator stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if (args.certfile is None) != (args.keyfile is None):
        print("ofs-esi-simulator: --certfile and --keyfile go together", file=sys.stderr)
        return 2
    _log_requests(quiet=args.quiet)
    try:
        simulator = Simulator(
            args.catalogue,
            host=args.host,
            port=args.port,
            token_lifetime=args.token_lifetime,
            speed=args.speed,
            slow_seconds=args.slow_seconds,
            ssl_certfile=args.certfile,
            ssl_keyfile=args.keyfile,
            path_prefix=args.path_prefix,
            params_format=args.params_format,
            strict=args.strict,
        )
    except (CatalogueError, ValueError) as exc:
        print(f"ofs-esi-simulator: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(simulator))
    except OSError as exc:
        print(f"ofs-esi-simulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
