"""The response check the ``HttpEventTrigger`` baseline runs: has the OFS run ended?

Kept tiny on purpose: ``HttpEventTrigger`` re-imports (reloads) this module on every poll.
"""

from __future__ import annotations

import json
from typing import Any

WAITING_CODES = ("1", "2", "5")  # not started, ongoing, held


async def run_has_ended(response: Any) -> bool:
    """True once the status answer's ``batchStatusCode`` is terminal (same parse as the bare client)."""
    return json.loads(response.content)["batchStatusCode"] not in WAITING_CODES
