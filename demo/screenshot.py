"""``make screenshot``: picture the demo DAG's run in the Airflow UI (grid and task instances), for the README.

Serves the demo's Airflow (``.demo/airflow``, filled by ``make demo``; run first when empty) with
``airflow api-server`` on 127.0.0.1, without login (SimpleAuthManager, everyone admin; local only), and
photographs one page with headless Chromium. Chromium comes from the Debian package ``chromium``,
installed with apt-get when missing (needs root).

Without ``--task`` the page is the DAG run (``docs/images/demo-dag-run.png``). With ``--task`` it is that
task instance's Details tab (``docs/images/demo-task-link.png``): Airflow 3's UI shows a task's extra links
(such as "OFS Batch Monitor") only there, under "Extra Links", not on the default Logs tab.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from demo.airflow_home import DEMO_DIR, REPO, DemoAirflow
from demo.run import DEFAULT_DAG
from demo.run import main as run_demo

DEFAULT_OUTPUT = REPO / "docs" / "images" / "demo-dag-run.png"
DEFAULT_TASK_OUTPUT = REPO / "docs" / "images" / "demo-task-link.png"
# The task instance tab that holds the "Extra Links" buttons in Airflow 3's UI (pages/TaskInstance/Details).
DEFAULT_TASK_TAB = "details"
UI_ENV = {
    "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
    "AIRFLOW__API__EXPOSE_CONFIG": "False",
}
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Take the screenshot; exit code 0 when the PNG was written."""
    parser = argparse.ArgumentParser(prog="make screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("--dag", default=DEFAULT_DAG, help=f"DAG whose latest run to show (default {DEFAULT_DAG})")
    parser.add_argument(
        "--output",
        type=Path,
        help=f"PNG to write (default {_shown(DEFAULT_OUTPUT)}, with --task {_shown(DEFAULT_TASK_OUTPUT)})",
    )
    parser.add_argument("--task", default="", help="show this (unmapped) task instance instead of the whole run")
    parser.add_argument(
        "--tab",
        default=DEFAULT_TASK_TAB,
        help=f"with --task: the task instance's tab (default {DEFAULT_TASK_TAB}: the extra links; '' for Logs)",
    )
    parser.add_argument("--window-size", default="1400,720", help="browser window, WIDTH,HEIGHT in pixels")
    args = parser.parse_args(argv)
    output: Path = args.output or (DEFAULT_TASK_OUTPUT if args.task else DEFAULT_OUTPUT)

    chromium = find_or_install_chromium()
    airflow = DemoAirflow()
    if airflow.latest_dag_run(args.dag) is None:
        print(f">> no run of {args.dag} in {DEMO_DIR.name}/ yet: running the demo first")
        if run_demo(["--dag", args.dag]) != 0:
            return 1
    dag_run = airflow.latest_dag_run(args.dag)
    if dag_run is None:
        raise SystemExit(f"no run of {args.dag} in {airflow.database}: did the demo fail?")
    port = free_port()
    print(f">> serving the Airflow UI on http://127.0.0.1:{port} (log: {DEMO_DIR.name}/api-server.log)")
    server = airflow.start(
        "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        log=DEMO_DIR / "api-server.log",
        env={**UI_ENV, "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}"},
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(f"{base}/api/v2/monitor/health", server)
        dag, run = quote(args.dag), quote(dag_run.run_id, safe="")
        url = f"{base}/dags/{dag}/runs/{run}"
        if args.task:
            task = quote(args.task)
            links = extra_links(f"{base}/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/links")
            print(f">> extra links of {args.task}: {links or 'none (the page will show no link button)'}")
            url += f"/tasks/{task}" + (f"/{quote(args.tab)}" if args.tab else "")
        print(f">> photographing {url}")
        take_screenshot(chromium, url, output, args.window_size)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    print(f">> wrote {_shown(output)}")
    return 0


def _shown(path: Path) -> Path:
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def find_or_install_chromium() -> str:
    """Path of the Chromium binary; installs the Debian package when it is missing and we are root."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit("Chromium is missing: install it (Debian/Ubuntu: sudo apt-get install -y chromium)")
    print(">> installing Chromium (apt-get install chromium)")
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=apt_env)  # noqa: S607
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=apt_env)  # noqa: S607
    found = shutil.which("chromium")
    if not found:
        raise SystemExit("apt-get installed chromium, but no 'chromium' binary is on PATH")
    return found


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_healthy(url: str, server: subprocess.Popen[bytes], within: float = 120.0) -> None:
    """Wait until the API server answers its health check (or fail when it exits or takes too long)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"airflow api-server exited with code {server.returncode}; see .demo/api-server.log")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - our own loopback server
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    raise SystemExit(f"airflow api-server did not become healthy within {within:.0f} s")


def extra_links(url: str) -> dict[str, str]:
    """The task instance's extra links (name to URL) as the UI will fetch them; the ones without a URL are left out.

    Airflow's UI draws a button only for a link with a URL, so a picture without one would show no button.
    """
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - our own loopback server
        links = json.load(answer).get("extra_links") or {}
    return {name: link for name, link in links.items() if link}


def take_screenshot(chromium: str, url: str, output: Path, window_size: str) -> None:
    """Load ``url`` in headless Chromium (a fresh profile) and save the rendered page as a PNG."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ofs-demo-chromium-") as profile:
        subprocess.run(  # noqa: S603 - fixed arguments
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={window_size}",
                "--virtual-time-budget=20000",
                f"--screenshot={output}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
    if not output.exists() or output.stat().st_size == 0:
        raise SystemExit(f"Chromium wrote no screenshot to {output}")


if __name__ == "__main__":
    raise SystemExit(main())
