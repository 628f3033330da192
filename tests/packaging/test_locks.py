"""Every environment the Makefile builds installs under a committed lock: nothing in it floats to a newer release."""

from __future__ import annotations

import importlib.metadata
import re
import sys

import pytest

from tests.packaging.locks import LOCK, ROOT

sys.path.insert(0, str(ROOT / "locks"))
from changes import normalized, pins

pytestmark = pytest.mark.compat
# Installed by the Makefile beside the locked packages: the project itself and the installer.
NOT_LOCKED = {"airflow-provider-ofs", "pip", "setuptools", "uv"}


@pytest.fixture(scope="module")
def locked() -> dict[str, str]:
    if not LOCK.exists():
        pytest.skip(f"this environment was not built by the Makefile: no {LOCK.name}")
    return pins(LOCK.read_text())


def test_every_installed_package_is_at_its_locked_version(locked: dict[str, str]) -> None:
    installed = {normalized(dist.metadata["Name"]): dist.version for dist in importlib.metadata.distributions()}

    floating = {name: version for name, version in installed.items() if name not in NOT_LOCKED and name not in locked}
    moved = {
        name: (locked[name], version) for name, version in installed.items() if locked.get(name, version) != version
    }

    assert not floating, f"installed but not in {LOCK.name} (run `make lock`): {floating}"
    assert not moved, f"installed at another version than {LOCK.name} pins (locked, installed): {moved}"


def test_each_lock_records_the_date_it_was_resolved_at() -> None:
    locks = sorted((ROOT / "locks").glob("airflow-*-py*.txt"))

    assert locks
    for lock in locks:
        header = "".join(lock.read_text().splitlines(keepends=True)[:3])
        assert re.search(r"--exclude-newer \d{4}-\d{2}-\d{2}\b", header), (
            f"{lock.name} does not say when it was resolved"
        )
        assert f" -o locks/{lock.name}" in header, f"{lock.name} was not made by `make lock`"
