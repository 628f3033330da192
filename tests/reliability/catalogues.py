"""Simulator catalogues of the reliability tests and of the DAGs in tests/dags/rel_dags.py."""

from __future__ import annotations

from typing import Any

#: Batches of the reliability tests; speed 100 makes a "1 s" task take 10 ms.
MATRIX_CATALOGUE: dict[str, Any] = {
    "batches": {
        "REL_QUICK": {
            "tasks": [
                {"code": "REL_LOAD", "seconds": 1, "outcome": "success"},
                {"code": "REL_PUBLISH", "seconds": 1, "outcome": "success"},
            ]
        },
        "REL_FAILS": {
            "tasks": [
                {"code": "REL_LOAD", "seconds": 1, "outcome": "success"},
                {"code": "REL_BREAKS", "seconds": 1, "outcome": "fail"},
            ]
        },
        "REL_LONG": {"tasks": [{"code": "REL_WAIT", "seconds": 1_000_000, "outcome": "success"}]},
    }
}

#: Runs that last about 1.5 s at speed 100: long enough to cancel the first triggerer mid-watch.
SLOWISH_CATALOGUE: dict[str, Any] = {
    "batches": {
        "REL_SLOWISH": {"tasks": [{"code": "REL_LOAD", "seconds": 150, "outcome": "success"}]},
        "REL_SLOWISH_FAILS": {
            "tasks": [
                {"code": "REL_LOAD", "seconds": 100, "outcome": "success"},
                {"code": "REL_BREAKS", "seconds": 50, "outcome": "fail"},
            ]
        },
    }
}

#: Batches of tests/dags/rel_dags.py (times at speed 1).
DAGS_CATALOGUE: dict[str, Any] = {
    "batches": {
        "REL_HELD": {
            "tasks": [
                {"code": "REL_LOAD", "seconds": 0.5, "outcome": "success"},
                {"code": "REL_RELEASE_ME", "seconds": 0.5, "outcome": "success"},
            ]
        },
        "REL_STEADY": {
            "tasks": [
                {"code": "REL_LOAD", "seconds": 1.5, "outcome": "success"},
                {"code": "REL_PUBLISH", "seconds": 1.5, "outcome": "success"},
            ]
        },
        "REL_FAILS": {"tasks": [{"code": "REL_BREAKS", "seconds": 0.3, "outcome": "fail"}]},
        "REL_LONG": {"tasks": [{"code": "REL_WAIT", "seconds": 3600, "outcome": "success"}]},
    }
}
