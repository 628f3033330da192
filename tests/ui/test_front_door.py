"""Through Airflow's front door, in a real browser: the connection form, the Trigger dialog and the task's link.

Airflow 3.3's api-server, scheduler, dag-processor and triggerer run on 127.0.0.1 (SQLite, LocalExecutor,
``tests/reliability/airflow_cluster.py``) with the bundled simulator, and headless Chromium does what a new
user does: log in (SimpleAuthManager, a generated password), create the OFS connection through the form
(only the fields a user fills), trigger ``ofs_daily_data_load`` from the Trigger dialog with its defaults,
wait for the run (its deferrable task needs the triggerer), and follow the task's **OFS Batch Monitor** link
to the simulator's page of that OFS run. On the way it checks the form's hints (placeholders, required
markers, choices), that the IAM endpoint is not masked, and keeps what Airflow stored.

Every step leaves a picture in ``ui-artefacts/`` (``NN-<step>.png``, ``...-FAILED.png`` on failure), with the
stored connection and what the UI's Test button answered. A failed check of the form is recorded and the walk
goes on; the test then fails listing every failed check with its step.
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.request
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.get_provider_info import get_provider_info
from airflow_provider_ofs.simulator import Simulator
from tests.airflow_cli import AirflowCLI
from tests.reliability.airflow_cluster import AirflowCluster
from tests.ui.conftest import REPO
from tests.ui.steps import Steps

pytestmark = [
    pytest.mark.ui,
    pytest.mark.airflow_e2e,
    pytest.mark.timeout(900),
    pytest.mark.skipif(airflow_version() < (3, 3), reason="the walk follows the Airflow 3.3 UI"),
]

DAG_ID = "ofs_daily_data_load"
DEFERRED_TASK = "load_staging_data"
BATCH = "OFS_DAILY_DATA_LOAD"
CONN_ID = "ofs_scheduler_default"
USER = "admin"
#: extras a user must fill (the form marks them required) and some that it must not mark
REQUIRED_EXTRAS = ("iam_url", "client_id", "client_secret", "tenant_id", "service_id")
OPTIONAL_EXTRAS = ("workspace_id", "remote_user", "proxy", "monitor_url", "access_token", "timeout")
#: fields whose form offers a choice, and the choices it must offer
CHOICES = {"verify": {"true", "false"}, "dynamic_params_format": {"string", "object"}}
#: the README's pictures, taken by this test (copied to docs/images/ by ``make ui-images``)
README_PICTURES = ("connection-form", "trigger-dialog", "task-link")
FINISHED_TASK_STATES = ("failed", "up_for_retry", "upstream_failed")
#: The example DAG's two batches, each lasting some seconds: the scheduler then takes the executor's success
#: of the deferring process before the trigger fires. Airflow 3.3 fails a resumed task that is already
#: running when that stale success comes after it (apache/airflow#72716), which a batch over in a blink
#: on a loaded machine provokes.
CATALOGUE = {
    "batches": {
        BATCH: {
            "tasks": [
                {"code": "LOAD_GL_DATA", "seconds": 3, "outcome": "success"},
                {"code": "LOAD_MARKET_DATA", "seconds": 1, "outcome": "success"},  # excluded by the DAG
                {"code": "RECON_GL", "seconds": 3, "outcome": "success"},
            ]
        },
        "OFS_FTP_PROCESS": {
            "tasks": [
                {"code": "FTP_RATE_LOOKUP", "seconds": 3, "outcome": "success"},
                {"code": "FTP_ALLOCATE", "seconds": 3, "outcome": "success"},
            ]
        },
    }
}
#: how long the page may take to show what a step waits for
UI_WAIT_MS = 60_000


def connection_type() -> dict[str, Any]:
    [conn_type] = get_provider_info()["connection-types"]
    return dict(conn_type)


class RestApi:
    """Airflow's REST API as the logged-in user (a token from ``/auth/token``)."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        body = json.dumps({"username": username, "password": password}).encode()
        request = urllib.request.Request(
            f"{base}/auth/token", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            self.token = json.load(answer)["access_token"]

    def get(self, path: str) -> Any:
        request = urllib.request.Request(f"{self.base}{path}", headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)


def generated_password(path: Path) -> str | None:
    """The password SimpleAuthManager generated for ``USER`` (the api-server writes it on start)."""
    try:
        return str(json.loads(path.read_text())[USER])
    except (OSError, ValueError, KeyError):
        return None


def run_problems(home: Path, run_id: str, limit: int = 4) -> list[str]:
    """The scheduler's errors and state changes for the run, then the last warnings and errors of its task logs."""
    problems = [
        line.strip()[:400]
        for path in sorted(home.glob("scheduler-*.out"))
        for line in path.read_text(errors="replace").splitlines()
        if run_id in line and ("[error" in line or "Marking task as" in line)
    ][-limit:]
    folder = home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}"
    task_problems: list[str] = []
    for path in sorted(folder.rglob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("level") in ("error", "warning", "critical"):
                task_problems.append(f"{path.parent.name}: {str(entry.get('event'))[:400]}")
    return problems + task_problems[-limit:]


def test_a_new_user_connects_triggers_and_follows_the_batch_monitor_link(
    airflow_cli: AirflowCLI,
    ofs_simulator_factory: Any,
    browser_page: Any,
    ui_artefacts: Path,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_WAIT_MS)  # the default 5 s is short for four Airflow processes on two cores
    page = browser_page
    simulator: Simulator = ofs_simulator_factory(CATALOGUE, speed=1)
    creds = simulator.credentials
    monitor_template = simulator.admin_url + "/runs/{run_id}"
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    shutil.copy(REPO / "example_dags" / f"{DAG_ID}.py", dags_folder)
    passwords = tmp_path / "passwords.json"
    env = {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",  # as a new deployment: the user unpauses
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "OFS_EXAMPLE_POLL_INTERVAL": "1",
    }
    steps = Steps(page, ui_artefacts)
    conn_type = connection_type()
    behaviour = conn_type["ui-field-behaviour"]
    declared = conn_type["conn-fields"]

    with AirflowCluster(tmp_path / "home", airflow_cli.pristine_db, dags_folder, env) as cluster:
        try:
            cluster.start_airflow()
            base = f"http://127.0.0.1:{cluster.api_port}"
            password = cluster.wait_for("the generated password file", lambda: generated_password(passwords), 60)
            cluster.wait_for(
                f"the dag-processor to parse {DAG_ID}",
                lambda: cluster.query("SELECT dag_id FROM dag WHERE dag_id = ?", DAG_ID),
                timeout=180,
            )
            api = RestApi(base, USER, password)

            # ------------------------------------------------------------------ a) log in
            with steps.step("a) log in"):
                page.goto(base + "/")
                page.get_by_label("Username").fill(USER)
                page.get_by_label("Password").fill(password)
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_role("button", name="Admin")).to_be_visible()

            # ------------------------------------------------------------------ b) the connection form
            form = page.get_by_role("dialog")

            def field_row(name: str) -> Any:
                """The form row (label, input, help) of an extra field."""
                return form.get_by_role("group").filter(has=page.locator(field_selector(name))).last

            with steps.step("b) fill the connection form", picture=False):
                page.goto(base + "/connections")
                page.get_by_role("button", name="Add Connection").click()
                form.get_by_label("Connection ID").fill(CONN_ID)
                form.get_by_role("combobox", name="Connection Type").fill("OFS External")
                page.get_by_role("option", name=conn_type["hook-name"], exact=True).click()
                form.locator("input[name=host]").fill(simulator.base_url)
                form.locator("input[name=login]").fill(creds.username)
                form.locator("input[name=password]").fill(creds.password)
                form.get_by_role("button", name="Extra Fields", exact=True).click()
                expect(form.locator("#element_iam_url")).to_be_visible()
                form.locator("#element_iam_url").scroll_into_view_if_needed()
                steps.shoot("connection-form-empty")
                typed = {
                    "iam_url": simulator.token_url,
                    "client_id": creds.client_id,
                    "client_secret": creds.client_secret,
                    "tenant_id": creds.tenant_id,
                    "service_id": creds.service_id,
                    "monitor_url": monitor_template,
                }
                for name, value in typed.items():
                    form.locator(f"#element_{name}").fill(value)
                form.locator("#element_iam_url").scroll_into_view_if_needed()
                steps.shoot("connection-form")

            with steps.step("c) the form's placeholders, required markers and choices", fatal=False, picture=False):
                for name in ("host", "login", "password"):
                    shown = form.locator(f"input[name={name}]").get_attribute("placeholder")
                    steps.check(
                        shown == behaviour["placeholders"][name],
                        f"{name} shows placeholder {shown!r}, not the provider's",
                    )
                shown = form.locator("#element_iam_url").get_attribute("placeholder")
                steps.check(shown, "the IAM endpoint field shows no placeholder")
                for name, spec in declared.items():
                    examples = spec.get("schema", {}).get("examples")
                    if examples and form.locator(field_selector(name)).count():
                        offered = offered_choices(page, form, name, field_row(name))
                        steps.check(
                            set(examples) <= offered,
                            f"{name} declares examples {examples} but offers {sorted(offered)}",
                        )
                for name in REQUIRED_EXTRAS:
                    row = field_row(name)
                    steps.check(
                        row.count() and row.locator("label[data-required]").count(),
                        f"{name} is required but the form shows no required marker",
                    )
                for name in OPTIONAL_EXTRAS:
                    row = field_row(name)
                    steps.check(
                        row.count() and not row.locator("label[data-required]").count(),
                        f"{name} is optional but the form marks it required",
                    )
                for name, expected in CHOICES.items():
                    offered = offered_choices(page, form, name, field_row(name))
                    steps.check(expected <= offered, f"{name} offers {sorted(offered) or 'no choice'}, not {expected}")
                field_row("dynamic_params_format").scroll_into_view_if_needed()
                steps.shoot("connection-form-choices")

            with steps.step("b) save the connection"):
                form.get_by_role("button", name="Save").click()
                expect(form).to_be_hidden()
                expect(page.get_by_role("row").filter(has_text=CONN_ID)).to_be_visible()

            with steps.step("c) the IAM endpoint is not masked in the edit form", fatal=False, picture=False):
                row = page.get_by_role("row").filter(has_text=CONN_ID)
                row.get_by_role("button", name="Edit Connection").click()
                form.get_by_role("button", name="Extra Fields", exact=True).click()
                iam_input = form.locator("#element_iam_url")
                iam_input.scroll_into_view_if_needed()
                shown = iam_input.input_value()
                steps.check(shown == simulator.token_url, f"the edit form shows the IAM endpoint as {shown!r}")
                steps.shoot("connection-edit-form")
                form.get_by_role("button", name="Close").click()
                expect(form).to_be_hidden()

            # ------------------------------------------------------------------ d) what Airflow stored
            with steps.step("d) what Airflow stored", fatal=False, picture=False):
                answer = api.get(f"/api/v2/connections/{CONN_ID}")
                (ui_artefacts / "connection-rest.json").write_text(json.dumps(answer, indent=2) + "\n")
                [(stored_extra, stored_port)] = cluster.query(
                    "SELECT extra, port FROM connection WHERE conn_id = ?", CONN_ID
                )
                stored = json.loads(stored_extra)
                (ui_artefacts / "connection-extra-stored.json").write_text(stored_extra + "\n")
                shown_extra = json.loads(answer["extra"])
                for name, value in typed.items():
                    steps.check(stored.get(name) == value, f"stored extra {name} is {stored.get(name)!r}")
                steps.check(
                    shown_extra.get("iam_url") == simulator.token_url,
                    f"the REST API shows the IAM endpoint as {shown_extra.get('iam_url')!r}",
                )
                print(f"\nstored by the 3.3 form (port {stored_port!r}): {stored_extra}")

            # ------------------------------------------------------------------ the UI's Test button (recorded)
            with steps.step("the connection's Test button", fatal=False):
                row = page.get_by_role("row").filter(has_text=CONN_ID)
                test_button = row.get_by_role("button", name=re.compile("test", re.IGNORECASE))
                note = record_test_button(page, test_button)
                (ui_artefacts / "connection-test.txt").write_text(note + "\n")
                print(f"\nthe UI's Test button: {note}")

            # ------------------------------------------------------------------ e) Trigger with the defaults
            with steps.step("e) unpause and open the Trigger dialog", picture=False):
                page.goto(base + "/dags")
                page.get_by_role("link", name=DAG_ID, exact=True).click()
                # The list page has a pause toggle and a Trigger button too, and stays on screen while the DAG's
                # page loads: act only once the DAG's page shows, or the dialog opened on the list closes with it.
                expect(page.get_by_text("Latest Dag Version", exact=True)).to_be_visible()
                toggle = page.get_by_test_id("toggle-pause")
                expect(toggle).to_be_visible()
                if toggle.get_attribute("data-state") != "checked":
                    toggle.click()
                cluster.wait_for(
                    f"{DAG_ID} to be unpaused",
                    lambda: cluster.query("SELECT is_paused FROM dag WHERE dag_id = ?", DAG_ID) == [(0,)],
                    timeout=60,
                )
                page.get_by_test_id("trigger-dag-button").click()
                expect(page.get_by_role("dialog")).to_be_visible()
                steps.shoot("trigger-dialog")

            with steps.step("e) trigger with the dialog's defaults"):
                trigger = page.get_by_role("dialog").get_by_role("button", name="Trigger", exact=True)
                try:
                    expect(trigger).to_be_enabled(timeout=15_000)
                except AssertionError as exc:
                    raise AssertionError("the Trigger button stays disabled with the DAG's default params") from exc
                trigger.click()
                [(run_id,)] = cluster.wait_for(
                    "the triggered DAG run",
                    lambda: cluster.query(
                        "SELECT run_id FROM dag_run WHERE dag_id = ? AND run_type = 'manual'", DAG_ID
                    ),
                    timeout=60,
                )

            # ------------------------------------------------------------------ f) the run succeeds
            with steps.step("f) the DAG run succeeds"):

                def ended() -> str | None:
                    [(state,)] = cluster.query("SELECT state FROM dag_run WHERE run_id = ?", run_id)
                    tasks = cluster.query(
                        "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", DAG_ID, run_id
                    )
                    if state in ("success", "failed"):
                        return str(state)
                    bad = [f"{task} {task_state}" for task, task_state in tasks if task_state in FINISHED_TASK_STATES]
                    return "failed: " + ", ".join(bad) if bad else None

                outcome = cluster.wait_for(f"DAG run {run_id} to end", ended, timeout=300)
                page.goto(f"{base}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}")
                expect(page.get_by_text(DEFERRED_TASK).first).to_be_visible()
                assert outcome == "success", (
                    f"DAG run {run_id} ended {outcome}; the scheduler and the task logs say:\n"
                    + "\n".join(run_problems(cluster.home, run_id))
                )
                task_logs = cluster.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={DEFERRED_TASK}"
                assert list(task_logs.glob("*trigger*")), f"{DEFERRED_TASK} never deferred to the triggerer"

            # ------------------------------------------------------------------ g) the OFS Batch Monitor link
            with steps.step("g) the task's OFS Batch Monitor link", picture=False):
                ofs_run_id = api.get(
                    f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances/{DEFERRED_TASK}"
                    "/xcomEntries/batch_run_id"
                )["value"]
                expected = monitor_template.format(run_id=ofs_run_id)
                page.goto(f"{base}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/tasks/{DEFERRED_TASK}")
                page.get_by_role("link", name="Details", exact=True).last.click()
                link = page.get_by_role("link", name="OFS Batch Monitor")
                expect(link).to_be_visible()
                assert link.get_attribute("href") == expected, f"the link leads to {link.get_attribute('href')!r}"
                steps.shoot("task-link")
                with page.context.expect_page() as opened:
                    link.click()
                monitor = opened.value
                monitor.wait_for_load_state()
                assert monitor.url == expected, f"the link opened {monitor.url}"
                shown_run = json.loads(monitor.locator("pre").first.inner_text())
                monitor.screenshot(path=str(ui_artefacts / "simulator-run-page.png"))
                assert shown_run["batchRunId"] == ofs_run_id, shown_run
                assert shown_run["name"] == BATCH, shown_run
                assert shown_run["state"] == simulator.get_run(ofs_run_id).state.text, shown_run
                monitor.close()

            # ------------------------------------------------------------------ Test with the port filled in (recorded)
            with steps.step("the Test button with the port filled in", fatal=False):
                page.goto(base + "/connections")
                row = page.get_by_role("row").filter(has_text=CONN_ID)
                row.get_by_role("button", name="Edit Connection").click()
                form.locator("input[name=port]").fill(str(simulator.port))
                form.get_by_role("button", name="Save").click()
                expect(form).to_be_hidden()
                note = record_test_button(page, row.get_by_role("button", name=re.compile("test", re.IGNORECASE)))
                with (ui_artefacts / "connection-test.txt").open("a") as notes:
                    notes.write(f"with the port filled in: {note}\n")
        finally:
            keep_logs(cluster.home, ui_artefacts / "airflow-logs")
    steps.finish()


def field_selector(name: str) -> str:
    """The input of an extra field: Airflow names it ``element_<name>`` (and most give it that id too)."""
    return f"[id='element_{name}'], [name='element_{name}']"


def offered_choices(page: Any, form: Any, name: str, row: Any) -> set[str]:
    """What the form offers for a field: a select's options, or the suggestions of a text field's datalist."""
    element = form.locator(field_selector(name)).first
    list_id = element.get_attribute("list") if element.count() else None
    if list_id:
        return set(form.locator(f"datalist[id='{list_id}'] option").evaluate_all("os => os.map(o => o.value)"))
    native = row.locator("select")
    if native.count():
        return set(native.locator("option").evaluate_all("os => os.map(o => o.value)"))
    combobox = row.get_by_role("combobox")
    if not combobox.count():
        return set()
    combobox.click()
    options = {text.strip() for text in page.get_by_role("option").all_inner_texts()}
    combobox.click()  # closes the menu again
    return options


def record_test_button(page: Any, button: Any) -> str:
    """Press the connection's Test button and describe what the UI and the API answered."""
    if not button.count():
        return "no Test button"
    if button.is_disabled():
        return f"the Test button is disabled ({button.get_attribute('aria-label')})"
    with page.expect_response(lambda r: "/connections/test" in r.url and r.request.method == "POST") as answer:
        button.click()
    response = answer.value
    try:
        body = response.text()
    except Exception as exc:  # a body Playwright could not read
        body = f"(no body: {exc})"
    with suppress(Exception):  # the toast appears after the answer; without one, the note says "(none)"
        page.locator("[data-scope=toast][data-part=root]").first.wait_for(timeout=10_000)
    toasts = " | ".join(
        " ".join(t.split()) for t in page.locator("[data-scope=toast][data-part=root]").all_inner_texts()
    )
    sent = response.request.post_data or ""
    sent_port = json.loads(sent).get("port", "(none)") if sent.startswith("{") else "(unknown)"
    return f"HTTP {response.status}: {body[:400]}; toast: {toasts or '(none)'}; port sent: {sent_port!r}"


def keep_logs(home: Path, folder: Path) -> None:
    """Copy the components' output and the task logs beside the pictures (CI keeps them for a failure)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in home.glob("*.out"):
        shutil.copy(path, folder / path.name)
    if (home / "logs").exists():
        shutil.copytree(home / "logs", folder / "logs", dirs_exist_ok=True)
