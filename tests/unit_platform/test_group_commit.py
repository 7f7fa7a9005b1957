"""GroupCommit: concurrent callers share flushes, each gets its own result, failures reach
exactly the callers of the failed batch, and a cancelled caller does not cancel its batch."""

from __future__ import annotations

import asyncio

import pytest

from shared.group_commit import GroupCommit


async def test_concurrent_items_are_flushed_together_and_answered_in_order() -> None:
    batches: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        batches.append(items)
        await asyncio.sleep(0.01)  # a database round trip
        return [i * 10 for i in items]

    committer = GroupCommit(flush, max_batch=50, max_in_flight=2)
    results = await asyncio.gather(*(committer.submit(i) for i in range(200)))
    assert results == [i * 10 for i in range(200)]
    assert sorted(i for b in batches for i in b) == list(range(200))  # each item exactly once
    assert len(batches) <= 6 and max(len(b) for b in batches) == 50
    assert committer.items == 200 and committer.batches == len(batches)


async def test_a_lone_item_is_flushed_at_once() -> None:
    async def flush(items: list[str]) -> list[str]:
        return [s.upper() for s in items]

    committer = GroupCommit(flush)
    assert await asyncio.wait_for(committer.submit("a"), 0.5) == "A"


async def test_a_failed_batch_fails_its_callers_only() -> None:
    calls = 0

    async def flush(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if 13 in items:
            raise RuntimeError("database said no")
        return items

    committer = GroupCommit(flush, max_batch=1, max_in_flight=1)
    outcomes = await asyncio.gather(*(committer.submit(i) for i in (12, 13, 14)),
                                    return_exceptions=True)
    assert outcomes[0] == 12 and outcomes[2] == 14
    assert isinstance(outcomes[1], RuntimeError)
    assert calls == 3


async def test_a_cancelled_caller_does_not_cancel_the_batch() -> None:
    written: list[int] = []
    release = asyncio.Event()

    async def flush(items: list[int]) -> list[int]:
        await release.wait()
        written.extend(items)
        return items

    committer = GroupCommit(flush, max_in_flight=1)
    first = asyncio.create_task(committer.submit(1))
    await asyncio.sleep(0)
    first.cancel()
    second = asyncio.create_task(committer.submit(2))
    await asyncio.sleep(0)
    release.set()
    assert await second == 2
    await committer.drain()
    assert written == [1, 2]
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_wrong_result_count_is_an_error() -> None:
    async def flush(items: list[int]) -> list[int]:
        return []

    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        await GroupCommit(flush).submit(1)
