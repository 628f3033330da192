"""One in-flight call per key and event loop: coroutines that need the same thing at once await it together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from functools import partial
from typing import Any, Generic, TypeVar

KeyT = TypeVar("KeyT", bound=Hashable)
ValueT = TypeVar("ValueT")


class SharedCalls(Generic[KeyT, ValueT]):
    """Coroutines of one event loop that ask for the same key share a single in-flight call.

    The first caller starts ``call()`` as a task of the running loop; every caller, the first included,
    awaits its outcome (value or error). A caller that is cancelled stops waiting without cancelling the
    call the others wait for (one trigger killed while the connection is read leaves the others alone).
    Nothing is kept once the call ends (caching the value is the caller's business), and different
    event loops never share a call.
    """

    def __init__(self) -> None:
        self._pending: dict[tuple[KeyT, int], asyncio.Task[ValueT]] = {}

    async def run(self, key: KeyT, call: Callable[[], Coroutine[Any, Any, ValueT]]) -> ValueT:
        """The outcome of ``call()``, or of the call already in flight for ``key`` on the running loop."""
        loop = asyncio.get_running_loop()
        slot = (key, id(loop))
        task = self._pending.get(slot)
        if task is None:
            task = loop.create_task(call())
            self._pending[slot] = task
            task.add_done_callback(partial(self._finished, slot))
        return await asyncio.shield(task)

    def _finished(self, slot: tuple[KeyT, int], task: asyncio.Task[ValueT]) -> None:
        if self._pending.get(slot) is task:
            del self._pending[slot]
        if not task.cancelled():
            task.exception()  # retrieved here, so an error whose callers all stopped waiting logs no warning
