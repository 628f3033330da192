"""A failed OFS run put to a person in Airflow 3.3's Required Actions, answered in a real browser.

Airflow 3.3's api-server, scheduler, dag-processor and triggerer run on 127.0.0.1 (SQLite, LocalExecutor,
``tests/reliability/airflow_cluster.py``; the all-admins simple auth manager, so no login) with the bundled
simulator's demo catalogue, whose ``OFS_REG_CAPITAL_CALC`` fails on its first attempt and succeeds once
restarted. The example DAG ``ofs_ask_on_failure`` is triggered; its ``calculate_regulatory_capital`` task,
given ``recovery=``, asks what to do and waits in ``awaiting_input``. Headless Chromium then does what the
person who is asked does: open **Browse → Required Actions**, find the question by its subject, open it, read the
failed run's id and the four options in its body, and click **Restart** (once the scheduler saw the task park,
as a person reading the question would: ``AirflowCluster.saw_park``). The run must then end green: the OFS run
restarted exactly once, ``publish_capital_report`` done, and the batch's asset event saying who chose Restart.

Every step leaves a picture in ``ui-artefacts/`` (``NN-<step>.png``, ``...-FAILED.png`` on failure), numbered
after test_front_door.py's; the one of the question's form goes into the README (``make ui-images``).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.arguments import DEFAULT_CONN_ID
from airflow_provider_ofs.asset_events import ofs_batch_uri
from airflow_provider_ofs.recovery import OPTIONS, RESTART
from airflow_provider_ofs.simulator import Simulator
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from tests.airflow_cli import AirflowCLI
from tests.reliability.airflow_cluster import AirflowCluster
from tests.ui.conftest import ARTEFACTS, REPO
from tests.ui.steps import Steps
from tests.ui.test_front_door import keep_logs

pytestmark = [
    pytest.mark.ui,
    pytest.mark.airflow_e2e,
    pytest.mark.timeout(900),
    pytest.mark.skipif(airflow_version() < (3, 3), reason="Required Actions that resume a task are Airflow 3.3's"),
]

DAG_ID = "ofs_ask_on_failure"
ASKING_TASK = "calculate_regulatory_capital"
DOWNSTREAM_TASK = "publish_capital_report"
BATCH = "OFS_REG_CAPITAL_CALC"
#: ``make test-ui`` runs test_front_door.py first into the same folder, and the README takes pictures of both:
#: this test neither empties the folder (as the ``ui_artefacts`` fixture does) nor reuses its picture numbers.
FIRST_PICTURE = 51
LOGS = "airflow-logs-required-actions"
#: who answered, as the form, Airflow and the asset event say it
NOTE = "required-action-answer.txt"
FINISHED_TASK_STATES = ("failed", "up_for_retry", "upstream_failed")
#: how long the page may take to show what a step waits for
UI_WAIT_MS = 60_000


@pytest.fixture
def artefacts() -> Path:
    """``ui-artefacts/`` as the tests before this one left it, without this test's pictures and logs of a last run."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTEFACTS.glob(f"{FIRST_PICTURE // 10}[0-9]-*.png"):
        old.unlink()
    (ARTEFACTS / NOTE).unlink(missing_ok=True)
    shutil.rmtree(ARTEFACTS / LOGS, ignore_errors=True)
    return ARTEFACTS


def task_states(cluster: AirflowCluster, run_id: str) -> dict[str, str]:
    rows = cluster.query("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", DAG_ID, run_id)
    return {task_id: state for task_id, state in rows}


def test_a_person_restarts_a_failed_ofs_run_from_required_actions(
    airflow_cli: AirflowCLI,
    ofs_simulator_factory: Any,
    browser_page: Any,
    artefacts: Path,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_WAIT_MS)  # the default 5 s is short for four Airflow processes on two cores
    page = browser_page
    simulator: Simulator = ofs_simulator_factory(speed=1)  # the demo catalogue
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    shutil.copy(REPO / "example_dags" / f"{DAG_ID}.py", dags_folder)
    env = {CONN_ENV_VAR: simulator.connection_json(), "OFS_EXAMPLE_POLL_INTERVAL": "1"}
    steps = Steps(page, artefacts, number=FIRST_PICTURE - 1)

    with AirflowCluster(tmp_path / "home", airflow_cli.pristine_db, dags_folder, env) as cluster:
        try:
            cluster.start_airflow()
            base = f"http://127.0.0.1:{cluster.api_port}"
            cluster.wait_for(
                f"the dag-processor to parse {DAG_ID}",
                lambda: cluster.query("SELECT dag_id FROM dag WHERE dag_id = ?", DAG_ID),
                timeout=180,
            )
            triggered = cluster.cli("dags", "trigger", DAG_ID)
            assert triggered.returncode == 0, triggered.stdout + triggered.stderr
            [(run_id,)] = cluster.wait_for(
                "the triggered DAG run",
                lambda: cluster.query("SELECT run_id FROM dag_run WHERE dag_id = ?", DAG_ID),
                timeout=60,
            )

            def asking() -> str | None:
                state = task_states(cluster, run_id).get(ASKING_TASK)
                if state in FINISHED_TASK_STATES or state == "success":
                    raise AssertionError(f"{ASKING_TASK} ended {state} without asking\n{cluster.report()}")
                return "asking" if state == "awaiting_input" else None

            cluster.wait_for(f"{ASKING_TASK} to await an answer", asking, timeout=300)
            [ofs_run_id] = [run.run_id for run in simulator.runs.values() if run.name == BATCH]
            [(subject,)] = cluster.query(
                "SELECT h.subject FROM hitl_detail h JOIN task_instance ti ON h.ti_id = ti.id "
                "WHERE ti.dag_id = ? AND ti.run_id = ? AND ti.task_id = ?",
                DAG_ID,
                run_id,
                ASKING_TASK,
            )
            assert re.fullmatch(rf"OFS batch {BATCH} for MIS date \d{{4}}-\d{{2}}-\d{{2}} failed", subject), subject

            # ------------------------------------------------------------------ a) Browse → Required Actions
            with steps.step("a) the required actions"):
                page.goto(base + "/")
                page.get_by_role("button", name="Browse").click()
                page.get_by_role("menuitem", name="Required Actions").click()
                expect(page).to_have_url(base + "/required_actions")
                row = page.get_by_role("row").filter(has_text=run_id)  # the failing DAG run's question
                expect(row.get_by_text("Choice Required", exact=True)).to_be_visible()
                link = row.get_by_role("link", name=subject, exact=True)
                expect(link).to_be_visible()

            # ------------------------------------------------------------------ b) the question, and Restart
            with steps.step("b) the required action form"):
                link.click()
                expect(page).to_have_url(re.compile(rf"/runs/[^/]+/tasks/{ASKING_TASK}/required_actions$"))
                expect(page.get_by_text(subject, exact=True)).to_be_visible()
                expect(page.locator("code", has_text=ofs_run_id)).to_be_visible()  # the body: the failed run
                for option in OPTIONS:  # one button per option (four or fewer, one to choose)
                    expect(page.get_by_test_id(f"hitl-option-{option}")).to_have_text(option)
                    expect(page.get_by_test_id(f"hitl-option-{option}")).to_be_enabled()

            with steps.step("c) restart"):
                # A person reads the question first: answer once the scheduler saw the task park (``saw_park``).
                cluster.wait_for("the task to park", lambda: cluster.saw_park(DAG_ID, ASKING_TASK), timeout=60)
                page.get_by_test_id(f"hitl-option-{RESTART}").click()
                received = page.get_by_text("Response received at")
                expect(received).to_be_visible()
                shown = " ".join(received.inner_text().split())
                for option in OPTIONS:
                    expect(page.get_by_test_id(f"hitl-option-{option}")).to_be_disabled()

            # ------------------------------------------------------------------ d) the run succeeds, restarted once
            with steps.step("d) the DAG run succeeds"):

                def ended() -> str | None:
                    [(state,)] = cluster.query("SELECT state FROM dag_run WHERE run_id = ?", run_id)
                    if state in ("success", "failed"):
                        return str(state)
                    bad = [f"{t} {s}" for t, s in task_states(cluster, run_id).items() if s in FINISHED_TASK_STATES]
                    return "failed: " + ", ".join(bad) if bad else None

                outcome = cluster.wait_for(f"DAG run {run_id} to end", ended, timeout=300)
                states = task_states(cluster, run_id)
                assert outcome == "success", f"DAG run {run_id} ended {outcome}: {states}\n{cluster.report()}"
                assert states == {ASKING_TASK: "success", DOWNSTREAM_TASK: "success"}, states
                page.goto(f"{base}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}")
                for task_id in (ASKING_TASK, DOWNSTREAM_TASK):
                    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=task_id, exact=True))
                    expect(row.get_by_text("Success", exact=True)).to_be_visible()

            with steps.step("e) one restart, and who chose it", picture=False):
                restarts = simulator.journal.count("restart", BATCH)
                assert restarts == 1, f"{restarts} restart calls: {simulator.journal.entries('restart', BATCH)}"
                uri = ofs_batch_uri(DEFAULT_CONN_ID, BATCH)
                extras = [
                    json.loads(extra) if isinstance(extra, str) else extra
                    for (extra,) in cluster.query(
                        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = ?", uri
                    )
                ]
                told = [str(extra.get("recovery", "")) for extra in extras]
                assert any(line.startswith(f"{RESTART} chosen by ") for line in told), extras
                [(responded_by,)] = cluster.query(
                    "SELECT h.responded_by FROM hitl_detail h JOIN task_instance ti ON h.ti_id = ti.id "
                    "WHERE ti.dag_id = ? AND ti.run_id = ? AND ti.task_id = ?",
                    DAG_ID,
                    run_id,
                    ASKING_TASK,
                )
                note = f"the form: {shown}\nhitl_detail.responded_by: {responded_by}\nthe asset event: {told}\n"
                (artefacts / NOTE).write_text(note)
                print(f"\n{note}")
        finally:
            keep_logs(cluster.home, artefacts / LOGS)
    steps.finish()
