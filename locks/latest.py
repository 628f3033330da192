"""`make test-latest`: each supported Airflow with the newest release of every other package, and the one that broke it.

For each Airflow version given, a virtualenv of its own (``.venv-latest-<airflow>``) takes the project with the
newest releases on PyPI (no lock, no caps from ``locks/*.in``) and runs a short smoke set. Where the smoke set
fails, every package whose version differs from the committed lock goes back to its locked version; if that
passes, the locked versions go back in halves until one package is left, and it is named with both versions.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from changes import pins

ROOT = Path(__file__).resolve().parents[1]
# What breaks first when a dependency moves: the provider info and the connection form against Airflow's own
# schema, the pure core, and one real `airflow dags test` through a connection read with a Fernet key.
SMOKE = [
    "tests/test_provider_info.py",
    "tests/core",
    "tests/example_dags/test_example_dags.py::test_eod_group_is_restarted_once_and_its_run_id_reaches_the_reporting_task",
]
NOT_OURS = {"airflow-provider-ofs", "pip", "setuptools", "uv"}


class Environment:
    """One Airflow's virtualenv of newest releases, able to put chosen packages back to their locked versions."""

    def __init__(self, uv: str, python: str, airflow: str) -> None:
        self.uv, self.airflow = uv, airflow
        self.venv = ROOT / f".venv-latest-{airflow}"
        self.python = str(self.venv / "bin" / "python")
        self.base_python = python

    def uv_run(self, *arguments: str) -> str:
        done = subprocess.run([self.uv, *arguments], cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"uv {' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def build(self) -> dict[str, str]:
        """Installs the project and Airflow with the newest release of everything else; returns what it got."""
        self.uv_run("venv", "--quiet", "--clear", "--python", self.base_python, str(self.venv))
        self.uv_run(
            "pip", "install", "--quiet", "--refresh", "--python", self.python,
            "-e", ".[test,yaml]", f"apache-airflow=={self.airflow}", "apache-airflow-providers-http",
        )  # fmt: skip
        return pins(self.uv_run("pip", "freeze", "--python", self.python))

    def pin(self, versions: dict[str, str]) -> None:
        """Installs exactly these versions, leaving every other package as it is."""
        if versions:
            requirements = [f"{name}=={version}" for name, version in sorted(versions.items())]
            self.uv_run("pip", "install", "--quiet", "--no-deps", "--python", self.python, *requirements)

    def smoke_passes(self) -> bool:
        done = subprocess.run(
            [str(self.venv / "bin" / "pytest"), "-x", "-q", "-p", "no:cacheprovider", *SMOKE],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        print("   " + (done.stdout.strip().splitlines() or ["(no output)"])[-1])
        return done.returncode == 0


def culprit(env: Environment, changed: dict[str, tuple[str, str]]) -> str:
    """Names the changed package whose locked version alone makes the smoke set pass again."""
    locked = {name: old for name, (old, _) in changed.items()}
    newest = {name: new for name, (_, new) in changed.items()}
    env.pin(locked)
    if not env.smoke_passes():
        return "the smoke set fails with every changed package at its locked version: look at packages new to the lock"
    suspects = sorted(changed)
    while len(suspects) > 1:
        half = suspects[: len(suspects) // 2]
        print(f"   {len(suspects)} suspects: putting back the locked {', '.join(half)}")
        env.pin(newest)
        env.pin({name: locked[name] for name in half})
        suspects = half if env.smoke_passes() else suspects[len(suspects) // 2 :]
    [name] = suspects
    old, new = changed[name]
    env.pin(newest)
    env.pin({name: old})
    alone = "" if env.smoke_passes() else " (with others: putting back this one alone does not make it pass)"
    return f"broken by {name} {new} (the lock has {old}){alone}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uv", required=True)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("airflows", nargs="+")
    options = parser.parse_args()
    python_minor = subprocess.run(
        [options.python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    verdicts = {}
    for airflow in options.airflows:
        print(f">> Airflow {airflow}, newest releases of everything else")
        env = Environment(options.uv, options.python, airflow)
        newest = env.build()
        locked = pins((ROOT / "locks" / f"airflow-{airflow}-py{python_minor}.txt").read_text())
        changed = {
            name: (locked[name], version)
            for name, version in newest.items()
            if name in locked and locked[name] != version and name not in NOT_OURS
        }
        print(f"   {len(changed)} packages differ from the lock, {len(newest.keys() - locked.keys())} not in it")
        verdicts[airflow] = "passes" if env.smoke_passes() else culprit(env, changed)
    print("\n".join(f"Airflow {airflow}: {verdict}" for airflow, verdict in verdicts.items()))
    return 0 if all(verdict == "passes" for verdict in verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
