"""Named steps of a browser test: a screenshot after each one, failures that name the step.

A step's failure is either fatal (the walk cannot go on: the test stops there) or a failed check (recorded,
the walk goes on, and the test fails at the end with every failed check). Either way the page is
photographed as ``NN-<step>-FAILED.png`` beside the other pictures, so that a failure in CI can be seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Steps:
    """The steps of one walk through the UI; pictures and notes go to ``folder``."""

    page: Any  # playwright.sync_api.Page: imported only where Playwright is installed
    folder: Path
    failures: list[str] = field(default_factory=list)
    number: int = 0
    current: str = ""

    def _path(self, name: str, suffix: str = "") -> Path:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]
        return self.folder / f"{self.number:02d}-{slug}{suffix}.png"

    def shoot(self, name: str, *, full_page: bool = False) -> Path:
        """Photograph the page now, as a picture of the current step (``NN-<name>.png``)."""
        path = self._path(name)
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    @contextmanager
    def step(self, name: str, *, fatal: bool = True, picture: bool = True) -> Iterator[None]:
        """Run one step; photograph the page after it (``picture``), or on failure as ``...-FAILED.png``."""
        self.number += 1
        self.current = name
        try:
            yield
        except Exception as exc:
            failed = self._path(name, "-FAILED")
            try:
                self.page.screenshot(path=str(failed), full_page=True)
            except Exception as shot_error:  # the browser itself may be what failed
                failed = Path(f"(no screenshot: {shot_error})")
            message = f"step {name!r} failed: {exc}\n  (screenshot: {failed})"
            self.failures.append(message)
            if fatal:
                raise AssertionError(self.summary()) from exc
            return
        if picture:
            self.shoot(name)

    def check(self, condition: object, message: str) -> None:
        """A check of the current step: recorded when false, and the walk goes on (the test fails at the end)."""
        if not condition:
            self.failures.append(f"step {self.current!r}: {message}")

    def summary(self) -> str:
        return f"{len(self.failures)} failure(s) in the UI walk:\n" + "\n".join(f"- {f}" for f in self.failures)

    def finish(self) -> None:
        """Fail with every recorded failure, if there was one."""
        if self.failures:
            raise AssertionError(self.summary())
