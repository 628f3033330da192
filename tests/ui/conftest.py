"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, and the folder of their pictures.

``make test-ui`` installs both (Chromium with apt-get, Playwright from the ``ui`` extra) and sets
``OFS_UI_REQUIRED=1``: there a missing piece fails the test; elsewhere it skips it. No browser is
downloaded: Playwright drives the system's Chromium through ``executable_path``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.screenshot import CHROMIUM_FLAGS

REPO = Path(__file__).resolve().parents[2]
REQUIRED_ENV_VAR = "OFS_UI_REQUIRED"
#: where the pictures and the stored connection go (git-ignored); ``OFS_UI_ARTEFACTS`` overrides it
ARTEFACTS = Path(os.environ.get("OFS_UI_ARTEFACTS", REPO / "ui-artefacts"))
VIEWPORT = {"width": 1280, "height": 900}


def _missing_or_skip(what: str) -> None:
    if os.environ.get(REQUIRED_ENV_VAR):
        pytest.fail(f"make test-ui needs {what}")
    pytest.skip(f"the browser test needs {what} (make test-ui installs it)")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The system's Chromium (``OFS_CHROMIUM`` or ``chromium`` on PATH)."""
    found = os.environ.get("OFS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        _missing_or_skip("Chromium (Debian: apt-get install chromium)")
    return str(found)


@pytest.fixture
def ui_artefacts() -> Path:
    """An emptied ``ui-artefacts/`` folder for this run's pictures and notes."""
    shutil.rmtree(ARTEFACTS, ignore_errors=True)
    ARTEFACTS.mkdir(parents=True)
    return ARTEFACTS


@pytest.fixture
def browser_page(chromium_path: str, tmp_path: Path) -> Iterator[Any]:
    """A Playwright page in headless Chromium with a fresh profile; closed after the test."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing_or_skip("Playwright for Python (the `ui` extra)")
    flags = [flag for flag in CHROMIUM_FLAGS if flag != "--headless"]  # Playwright adds its own
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=chromium_path,
            headless=True,
            args=flags,
            viewport=VIEWPORT,
        )
        context.set_default_timeout(60_000)  # four Airflow processes share two cores
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
