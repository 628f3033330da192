"""``SharedCalls``: one in-flight call per key and event loop (used for tokens and connection settings)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from airflow_provider_ofs.shared_calls import SharedCalls


def test_callers_of_one_key_share_one_call_and_another_key_gets_its_own():
    shared: SharedCalls[str, str] = SharedCalls()
    calls: list[str] = []

    def call_for(key):
        async def call():
            calls.append(key)
            await asyncio.sleep(0.01)
            return f"value of {key}"

        return call

    async def main():
        return await asyncio.gather(*(shared.run(key, call_for(key)) for key in ["a"] * 10 + ["b"] * 10))

    values = asyncio.run(main())

    assert sorted(calls) == ["a", "b"]
    assert values == ["value of a"] * 10 + ["value of b"] * 10


def test_a_finished_call_is_not_kept_so_the_next_caller_calls_again():
    shared: SharedCalls[str, int] = SharedCalls()
    calls: list[int] = []

    async def call():
        calls.append(1)
        return len(calls)

    async def main():
        return [await shared.run("k", call), await shared.run("k", call)]

    assert asyncio.run(main()) == [1, 2]


def test_an_error_reaches_every_waiter_and_the_next_caller_calls_again():
    shared: SharedCalls[str, int] = SharedCalls()
    calls: list[int] = []

    async def fails():
        calls.append(1)
        await asyncio.sleep(0.01)
        raise ValueError("lookup failed")

    async def main():
        return await asyncio.gather(*(shared.run("k", fails) for _ in range(3)), return_exceptions=True)

    outcomes = asyncio.run(main())

    assert [str(outcome) for outcome in outcomes] == ["lookup failed"] * 3
    assert len(calls) == 1
    with pytest.raises(ValueError, match="lookup failed"):
        asyncio.run(shared.run("k", fails))
    assert len(calls) == 2


def test_a_cancelled_caller_stops_waiting_without_cancelling_the_call_of_the_others():
    shared: SharedCalls[str, str] = SharedCalls()
    release = None

    async def slow_lookup():
        await release.wait()
        return "settings"

    async def main():
        nonlocal release
        release = asyncio.Event()
        first = asyncio.create_task(shared.run("k", slow_lookup))
        await asyncio.sleep(0)  # the first caller starts the call
        second = asyncio.create_task(shared.run("k", slow_lookup))
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.sleep(0)
        release.set()
        return await asyncio.gather(first, second, return_exceptions=True)

    first, second = asyncio.run(main())

    assert isinstance(first, asyncio.CancelledError)
    assert second == "settings"


def test_event_loops_in_two_threads_never_share_a_call():
    shared: SharedCalls[str, str] = SharedCalls()
    both_started = threading.Barrier(2, timeout=10)
    results: dict[str, str] = {}

    def in_thread(name):
        async def call():
            await asyncio.to_thread(both_started.wait)  # both calls are in flight at once
            return name

        results[name] = asyncio.run(shared.run("same key", call))

    threads = [threading.Thread(target=in_thread, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert results == {"first": "first", "second": "second"}
