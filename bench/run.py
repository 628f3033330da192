"""``make bench``: measure the provider's triggerer, sync and import costs against bare clients, in one run.

Sections (all against a bench server on 127.0.0.1 in its own process, see ``bench.status_server``):

1. Triggerer cost: N concurrent watchers on one event loop, each run ending after K polls, for the
   provider's ``OFSBatchRunTrigger``, the floor (bare aiohttp, one keep-alive session) and the HTTP
   provider's ``HttpEventTrigger``; plain HTTP and TLS (a self-signed certificate, verified through
   the CA-bundle option). Over HTTP also: the set-up cost per watcher, and runs whose every answer
   differs (nothing can be reused from one poll to the next).
2. Sync path: ``OFSSchedulerHook.get_status`` in a loop against a bare ``requests.Session``.
3. Import cost of ``airflow_provider_ofs.operators.batch`` and of an example DAG over ``airflow.sdk``.
4. Scale curve: provider and floor at N = 10, 100, 1000 (plotted to a PNG).

Ratios are against the floor measured in the same run. Writes ``bench/RESULTS.md`` (between its
markers) and ``bench/scale_curve.png`` unless told otherwise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as ``python bench/run.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, Scenario, base_env, bench_server, median_scenario, run_scenario
from bench.imports import ImportCost, measure_imports
from bench.report import machine_info, render, write_plot, write_results

#: The two watchers whose ratio is the headline goal: measured ``Plan.rounds`` times each, alternately.
PAIRED = ("floor", "provider")


@dataclass(frozen=True)
class Plan:
    """What one bench run measures."""

    n: int
    polls: int
    calls: int
    scale: tuple[int, ...]
    import_repeats: int
    rate: float
    tls: bool = True
    rounds: int = 1

    def interval(self, n: int) -> float:
        """Seconds between one watcher's polls: keeps the server near ``rate`` polls/s at any N."""
        return round(max(0.25, n / self.rate), 3)


def plan_from(args: argparse.Namespace) -> Plan:
    """The plan the command line asks for (``--quick`` shrinks everything)."""
    if args.quick:
        n = args.n or 50
        return Plan(n, args.polls or 5, 200, tuple(args.scale or (10, 50, 200)), 1, 800.0, not args.no_tls, 1)
    n = args.n or 300
    scale = tuple(args.scale or (10, 100, 1000))
    return Plan(n, args.polls or 20, 1000, scale, 5, 800.0, not args.no_tls, args.rounds or 3)


def run(plan: Plan, *, log: bool = True) -> dict[str, object]:
    """Measure every section of ``plan``; return the raw material of the report."""
    say = print if log else (lambda *_, **__: None)
    home = tempfile.mkdtemp(prefix="ofs-bench-home-")
    certdir = tempfile.mkdtemp(prefix="ofs-bench-tls-")
    from airflow_provider_ofs.simulator.tls import make_self_signed_cert

    certfile, keyfile = make_self_signed_cert(certdir)
    watch: list[Scenario] = []
    rounds: list[Scenario] = []
    setup: list[Scenario] = []
    changing: list[Scenario] = []
    sync: list[Scenario] = []
    scale: list[Scenario] = []
    larger: list[Scenario] = []  # TLS at the largest N of the scale curve, for memory per extra run
    transports = [(None, None), (certfile, keyfile)] if plan.tls else [(None, None)]
    for cert, key in transports:
        with bench_server(cert, key) as server:
            name = "TLS" if cert else "HTTP"
            every = {"n": plan.n, "interval": plan.interval(plan.n)}
            # Floor and provider alternate, so that both see the same noise; the median run of each is kept.
            say(f"[1] {name}: {plan.n} watchers x {plan.polls} polls, {plan.rounds} round(s) of {PAIRED} ...")
            paired = [
                run_scenario(server, home, client, f"w-{name}-{client}-{i}", polls=plan.polls, **every)
                for i in range(plan.rounds)
                for client in PAIRED
            ]
            rounds += paired
            watch += [median_scenario([s for s in paired if s.client == client]) for client in PAIRED]
            say(f"[1] {name}: {plan.n} x http-event watchers ...", flush=True)
            watch.append(run_scenario(server, home, "http-event", f"w-{name}-http-event", polls=plan.polls, **every))
            if cert is None and plan.polls > 1:
                say(f"[1] {name}: runs of 1 poll (set-up cost per watcher) ...", flush=True)
                setup += [run_scenario(server, home, client, f"one-{client}", polls=1, **every) for client in PAIRED]
                say(f"[1] {name}: answers that change at every poll, {plan.rounds} round(s) ...", flush=True)
                changing += [
                    run_scenario(server, home, client, f"d-{client}-{i}", polls=plan.polls, answers="change", **every)
                    for i in range(plan.rounds)
                    for client in PAIRED
                ]
            for client in ("sync-floor", "sync-provider"):
                say(f"[2] {name}: {plan.calls} x {client} ...", flush=True)
                sync.append(run_scenario(server, home, client, f"s-{name}-{client}", calls=plan.calls))
            if cert is not None and max(plan.scale) > plan.n:
                n = max(plan.scale)
                say(f"[1] {name}: {n} watchers, for memory per extra run ...", flush=True)
                larger += [
                    run_scenario(server, home, client, f"l-{client}", n=n, polls=plan.polls, interval=plan.interval(n))
                    for client in PAIRED
                ]
            if cert is None:
                for n in plan.scale:
                    for client in PAIRED:
                        say(f"[4] HTTP: scale N={n} {client} ...", flush=True)
                        tag = f"c-{n}-{client}"
                        scale.append(
                            run_scenario(server, home, client, tag, n=n, polls=plan.polls, interval=plan.interval(n))
                        )
    say(f"[3] import cost ({plan.import_repeats} runs each) ...", flush=True)
    imports: list[ImportCost] = measure_imports(base_env(home), ROOT, plan.import_repeats)
    return {
        "plan": plan,
        "watch": watch,
        "rounds": rounds,
        "setup": setup,
        "changing": changing,
        "sync": sync,
        "scale": scale,
        "larger": larger,
        "imports": imports,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, help="concurrent watchers in section 1 (default 300; quick 50)")
    parser.add_argument("--polls", type=int, help="status polls until a run ends (default 20; quick 5)")
    parser.add_argument("--scale", type=int, nargs="+", help="N values of the scale curve (default 10 100 1000)")
    parser.add_argument("--quick", action="store_true", help="a small run (about a minute)")
    parser.add_argument("--rounds", type=int, help="runs of floor and provider in section 1; medians kept (3)")
    parser.add_argument("--no-tls", action="store_true", help="skip the TLS half of sections 1 and 2")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md", help="results file to update")
    parser.add_argument("--plot", type=Path, default=ROOT / "bench" / "scale_curve.png", help="scale curve PNG")
    parser.add_argument("--no-write", action="store_true", help="print only; write neither results nor plot")
    args = parser.parse_args(argv)
    plan = plan_from(args)
    command = "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    started = time.time()
    measured = run(plan)
    text = render(measured, machine_info(), command.strip(), time.time() - started)
    print()
    print(text)
    if not args.no_write:
        plotted = write_plot(measured["scale"], args.plot)  # type: ignore[arg-type]
        write_results(text, args.results)
        print(f"\nwrote {args.results}" + (f" and {args.plot}" if plotted else " (no plot: matplotlib missing)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
