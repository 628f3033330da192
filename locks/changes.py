"""Lists what `make lock` changed: per lock file, each package added, removed or moved to another version.

The comparison is with the locks as committed (``git show HEAD:<lock>``), so it shows what a commit of the new
locks would change in every environment built from them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

LOCKS = Path(__file__).resolve().parent
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;]+)")


def normalized(name: str) -> str:
    """A distribution name as PyPI compares them (PEP 503): ``jaraco.classes`` is ``jaraco-classes``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    """The ``name==version`` lines of a lock, by normalized name."""
    found = {}
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            found[normalized(match["name"])] = match["version"]
    return found


def committed(lock: Path) -> str:
    shown = subprocess.run(
        ["git", "show", f"HEAD:{lock.relative_to(LOCKS.parent).as_posix()}"],
        cwd=LOCKS.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    return shown.stdout if shown.returncode == 0 else ""


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """One line per package whose pin differs, in name order."""
    lines = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old != new:
            lines.append(f"  {name}: {old or '(new)'} -> {new or '(removed)'}")
    return lines


def main() -> int:
    for lock in sorted(LOCKS.glob("*.txt")):
        lines = changes(pins(committed(lock)), pins(lock.read_text()))
        print(f"{lock.name}: " + (f"{len(lines)} changed" if lines else "unchanged"))
        for line in lines:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
