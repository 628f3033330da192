"""Airflow 2.11's connection form in a real browser: the provider's labels, placeholders and extra fields show.

Airflow 2.11 builds the form from the hook's ``get_ui_field_behaviour()`` and ``get_connection_form_widgets()``,
and drops the provider's whole layout when the behaviour does not match its schema (the raw Host, Schema,
Login, Password, Port and Extra fields then show). The test logs in to a 2.11 webserver, opens Add
Connection, picks **OFS External Scheduler** and checks what the form shows; ``make test-ui`` runs it in the
2.11 virtualenv, and the pictures go to ``ui-artefacts/airflow-2.11/``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_ofs._compat import IS_AIRFLOW_2
from airflow_provider_ofs.connection_form import CONNECTION_FIELDS, UI_FIELD_BEHAVIOUR
from tests.airflow_cli import AIRFLOW, AirflowCLI
from tests.reliability.airflow_cluster import free_port
from tests.ui.steps import Steps

pytestmark = [
    pytest.mark.ui,
    pytest.mark.airflow_e2e,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not IS_AIRFLOW_2, reason="Airflow 2.11's Flask UI (3.x: test_front_door.py)"),
]

USER, PASSWORD = "admin", "admin-2-11"
PREFIX = "extra__ofs_scheduler__"


def webserver_answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/health", timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def test_the_2_11_form_shows_the_provider_s_labels_placeholders_and_fields(
    airflow_cli: AirflowCLI, browser_page: Any, ui_artefacts: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(airflow_cli.pristine_db, home / "airflow.db")
    port = free_port()
    env = {
        **airflow_cli.env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__WEBSERVER__WORKERS": "1",
        "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(port),
    }
    user = ["--username", USER, "--password", PASSWORD, "--firstname", "Ops", "--lastname", "Team"]
    created = subprocess.run(
        [AIRFLOW, "users", "create", "--role", "Admin", *user, "--email", "ops@example.com"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert created.returncode == 0, created.stdout[-2000:] + created.stderr[-2000:]
    base = f"http://127.0.0.1:{port}"
    log = (home / "webserver.out").open("wb")
    webserver = subprocess.Popen(
        [AIRFLOW, "webserver"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    page = browser_page
    steps = Steps(page, ui_artefacts)
    try:
        deadline = time.monotonic() + 180
        while not webserver_answers(base):
            assert webserver.poll() is None, (home / "webserver.out").read_text()
            assert time.monotonic() < deadline, "the webserver did not answer within 3 minutes"
            time.sleep(1)

        with steps.step("a) log in"):
            page.goto(base + "/login/")
            page.fill("#username", USER)
            page.fill("#password", PASSWORD)
            page.click("input[type=submit]")
            expect(page.get_by_role("link", name="Admin")).to_be_visible()

        with steps.step("b) add an OFS connection", picture=False):
            page.goto(base + "/connection/add")
            page.select_option("#conn_type", "ofs_scheduler")
            expect(page.locator(f"#{PREFIX}iam_url")).to_be_visible()
            steps.shoot("connection-form", full_page=True)

        relabeling, placeholders = UI_FIELD_BEHAVIOUR["relabeling"], UI_FIELD_BEHAVIOUR["placeholders"]
        with steps.step("c) the provider's layout", fatal=False, picture=False):
            for field, label in relabeling.items():
                shown = page.locator(f"label[for={field}]").inner_text().strip()
                steps.check(shown.startswith(label), f"{field} is labelled {shown!r}, not {label!r}")
            for field in ("host", "login"):
                shown = page.locator(f"#{field}").get_attribute("placeholder")
                steps.check(shown == placeholders[field], f"{field}'s placeholder is {shown!r}")
            steps.check(not page.locator("#schema").is_visible(), "Schema shows, though the provider hides it")
            for name, field in CONNECTION_FIELDS.items():
                extra = page.locator(f"#{PREFIX}{name}")
                steps.check(extra.is_visible(), f"the extra field {name} does not show")
                label = page.locator(f"label[for={PREFIX}{name}]").inner_text().strip()
                steps.check(label.startswith(field["label"]), f"{name} is labelled {label!r}")
            shown = page.locator(f"#{PREFIX}iam_url").get_attribute("placeholder")
            steps.check(shown == placeholders["iam_url"], f"iam_url's placeholder is {shown!r}")
        webserver_log = (home / "webserver.out").read_text(errors="replace")
        steps.check(
            "Error when loading customized fields" not in webserver_log,
            "the webserver logged an error loading the provider's form: "
            + "".join(line for line in webserver_log.splitlines() if "customized fields" in line),
        )
        steps.finish()
    finally:
        webserver.terminate()
        try:
            webserver.wait(timeout=30)
        except subprocess.TimeoutExpired:
            webserver.kill()
        log.close()
