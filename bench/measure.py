"""One measured scenario, run in a fresh process: N watchers on one event loop, or a sync call loop.

``python -m bench.measure --client provider --n 300 --polls 10 --interval 0.5`` prints one JSON line:
CPU seconds of this process (all threads) over the measured window, wall seconds, RSS before the
watchers start and its peak while they run. Imports and client set-up happen before the window, as
in a triggerer that is already running; the token request is inside it. The connection comes from
``BENCH_CONNECTION`` (JSON); ``AIRFLOW_CONN_...`` variables are set by ``bench.run``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import time
from typing import Any

import psutil

from bench.clients import ASYNC_CLIENTS, SYNC_CLIENTS
from bench.status_server import run_id

NEVER_ENDS = 10**9  # polls: a run the sync loops never see finish


def triggerer_process() -> None:
    """Load what a triggerer process holds anyway, for every client alike: the triggerer itself.

    The bare clients would otherwise run in a small process with a cheap garbage collector and a
    low RSS, and the comparison would measure Airflow's size rather than the watchers' cost. It also
    keeps Airflow's own first-use imports (the connection lookup's modules, loaded once per triggerer
    lifetime) out of the measured window.
    """
    import airflow.jobs.triggerer_job_runner
    import airflow.sdk
    import airflow.triggers.base  # noqa: F401


class GcClock:
    """Counts garbage collections by generation, and the CPU they take, while enabled."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.cpu_s = 0.0
        self._started = 0.0

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.collections[info["generation"]] += 1
            self.cpu_s += time.process_time() - self._started


class RssSampler:
    """Samples this process's resident memory while the watchers run; keeps the peak."""

    def __init__(self, every: float = 0.1) -> None:
        self.process = psutil.Process()
        self.every = every
        self.peak = self.now()

    def now(self) -> int:
        """Resident set size in bytes, now."""
        return int(self.process.memory_info().rss)

    async def run(self) -> None:
        """Sample until cancelled."""
        while True:
            self.peak = max(self.peak, self.now())
            await asyncio.sleep(self.every)


async def watch_all(
    client_name: str,
    n: int,
    polls: int,
    interval: float,
    connection: dict[str, Any],
    tag: str,
    profile: str | None,
    changing: bool = False,
) -> dict[str, Any]:
    """Start ``n`` watchers spread over one poll interval; measure until the last run has ended."""
    triggerer_process()
    client = ASYNC_CLIENTS[client_name](connection)
    await client.start()
    ids = [run_id(polls, tag, i, changing) for i in range(n)]

    async def watcher(index: int) -> str:
        await asyncio.sleep(interval * index / n)  # triggers arrive over time, not in one burst
        return str(await client.watch(ids[index], interval))

    gc.collect()
    sampler = RssSampler()
    rss_before = sampler.now()
    sampling = asyncio.create_task(sampler.run())
    profiler = start_profiler(profile)
    with GcClock() as gc_clock:
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        states = await asyncio.gather(*(watcher(i) for i in range(n)))
        cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
    stop_profiler(profiler, profile)
    sampling.cancel()
    sampler.peak = max(sampler.peak, sampler.now())
    await client.close()
    return {
        "client": client_name,
        "n": n,
        "polls_per_run": polls,
        "interval": interval,
        "cpu_s": cpu,
        "wall_s": wall,
        "rss_before": rss_before,
        "rss_peak": sampler.peak,
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "runs_succeeded": sum(1 for state in states if state == "0"),
        "gc_collections": gc_clock.collections,
        "gc_cpu_s": gc_clock.cpu_s,
    }


def call_loop(
    client_name: str, calls: int, connection: dict[str, Any], tag: str, profile: str | None
) -> dict[str, Any]:
    """``calls`` status calls in a row, after one untimed warm-up call (token, connection, settings)."""
    triggerer_process()
    status = SYNC_CLIENTS[client_name](connection)
    batch_run_id = run_id(NEVER_ENDS, tag, 0)
    status(batch_run_id)
    gc.collect()
    profiler = start_profiler(profile)
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    for _ in range(calls):
        status(batch_run_id)
    stop_profiler(profiler, profile)
    return {
        "client": client_name,
        "calls": calls,
        "cpu_s": time.process_time() - cpu_start,
        "wall_s": time.perf_counter() - wall_start,
    }


def start_profiler(path: str | None) -> Any:
    """Profile the measured window when asked (pyinstrument if installed, else cProfile)."""
    if not path:
        return None
    try:
        from pyinstrument import Profiler

        profiler: Any = Profiler(interval=0.0005, async_mode="disabled")
    except ImportError:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        return profiler
    profiler.start()
    return profiler


def stop_profiler(profiler: Any, path: str | None) -> None:
    """Stop profiling and write the report (``.txt``/``.html`` for pyinstrument, pstats for cProfile)."""
    if profiler is None or path is None:
        return
    if hasattr(profiler, "disable"):
        profiler.disable()
        profiler.dump_stats(path)
        return
    profiler.stop()
    with open(path, "w", encoding="utf-8") as out:
        out.write(profiler.output_html() if path.endswith(".html") else profiler.output_text(unicode=False))


def main() -> None:
    """Command line of one scenario; prints its result as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", required=True, choices=sorted({*ASYNC_CLIENTS, *SYNC_CLIENTS}))
    parser.add_argument("--n", type=int, default=300, help="concurrent watchers")
    parser.add_argument("--polls", type=int, default=10, help="status polls until a run ends")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between polls of one watcher")
    parser.add_argument("--calls", type=int, default=1000, help="sync: status calls in a row")
    parser.add_argument("--tag", default="", help="makes the run ids unique on a shared bench server")
    parser.add_argument(
        "--answers", choices=("repeat", "change"), default="repeat", help="ongoing runs repeat or change answers"
    )
    parser.add_argument("--profile", help="write a profile of the measured window to this file")
    args = parser.parse_args()
    connection = json.loads(os.environ["BENCH_CONNECTION"])
    tag = args.tag or f"{args.client}-{os.getpid()}"
    if args.client in SYNC_CLIENTS:
        result = call_loop(args.client, args.calls, connection, tag, args.profile)
    else:
        changing = args.answers == "change"
        result = asyncio.run(
            watch_all(args.client, args.n, args.polls, args.interval, connection, tag, args.profile, changing)
        )
    print("BENCH-RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
