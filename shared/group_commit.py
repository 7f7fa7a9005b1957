"""Group commit: many concurrent callers, one database round trip.

At the peak, hundreds of requests per second each want to write one row and wait until it is
durable. Writing them one statement (and one commit) each costs a round trip, a statement and a
WAL flush per row. `GroupCommit` lets them wait together instead: a caller hands over its item
and awaits its own result; items that arrive while a flush is in flight go together into the
next flush. At low load a lone item is flushed at once (no timer, no added latency); under load
the batches grow by themselves.

    committer = GroupCommit(write_rows, max_batch=256, max_in_flight=2)
    result = await committer.submit(item)   # returns when *this* item's batch is committed

`flush(items)` must return one result per item, in order, and either commit all of them or
raise (then every caller of that batch gets the exception). A caller that is cancelled while
waiting does not cancel the batch: its item is written or not with the others, which is what an
idempotent writer (the webhook intake) needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(self, flush: Callable[[list[T]], Awaitable[Sequence[R]]], *,
                 max_batch: int = 256, max_in_flight: int = 2) -> None:
        if max_batch < 1 or max_in_flight < 1:
            raise ValueError("max_batch and max_in_flight must be at least 1")
        self._flush = flush
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.items = 0

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._start_flushes()
        return await future

    def _start_flushes(self) -> None:
        while self._pending and self._in_flight < self.max_in_flight:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            self._in_flight += 1
            task = asyncio.create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"flush returned {len(results)} results for {len(batch)} items")
        except BaseException as exc:  # every waiter of this batch learns it failed
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            self.batches += 1
            self.items += len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            self._in_flight -= 1
            self._start_flushes()

    async def drain(self) -> None:
        """Wait until everything submitted so far has been flushed (for a graceful stop)."""
        while self._tasks or self._pending:
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            else:
                self._start_flushes()
                await asyncio.sleep(0)
