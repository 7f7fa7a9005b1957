"""Re-determine a region's whole enrolled population, in resumable chunks.

Each chunk (a range of person_id) is one transaction: stage the people in a temporary table and
bring their facts to numpy through a binary COPY (population.stage_chunk), determine in bulk
(determine_batch), COPY back one key per person into the distinct results, and in SQL keep only
the people whose result changed: their determinations, current rows and outbox events (changed,
and adjustment due where the person already paid more than is now due) are written set-wise,
with the job's progress in the same transaction. The explanations the results rest on (trace
and assumptions, shared by many) are stored once each, on a connection of their own. A restart
continues after the last person of the last committed chunk.

Two chunks are in flight at once, on two connections, so that the database works on both cores
(one chunk is read while the other writes, or both write); they commit in order, and the
determination lock that keeps per-person work out is held for them by a guard connection.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from kernels.policy import PlanNotFound
from services.eligibility.plans.registry import PlanRegistry
from services.eligibility.redeterminations import repository as repo
from services.eligibility.redeterminations.population import (
    Outcome,
    Staged,
    compute_staged,
    counties_of,
    stage_chunk,
)
from shared.errors import NotFound

log = logging.getLogger(__name__)
UNFINISHED = ("queued", "running")
CHUNK_SIZE = 100_000  # persons per chunk (a transaction); bench/eligibility_redetermine.py
CONNECTIONS = 2  # chunks in flight at once

def _job(row: Any) -> dict[str, Any]:
    job = dict(row)
    job["last_person_id"] = str(job["last_person_id"]) if job["last_person_id"] else None
    for k in ("created_at", "updated_at", "finished_at"):
        if job.get(k) is not None:
            job[k] = job[k].isoformat()
    total = job["total"] or 0
    job["percent"] = round(100 * job["processed"] / total, 1) if total else 100.0
    return job


def _committed(task: asyncio.Task[dict[str, Any] | None]) -> bool:
    """A finished chunk that committed its work (not failed, not rolled back)."""
    if task.cancelled() or task.exception() is not None:
        return False
    job = task.result()
    return job is not None and job["status"] != "failed"


class _NotCommitted(Exception):
    """The chunk's transaction is rolled back on purpose."""


class _Plan:
    """Where the chunks of a run end (person_id), computed once for the rest of the job."""

    def __init__(self) -> None:
        self.start: uuid.UUID | None = None
        self.ends: list[uuid.UUID] | None = None

    def starts_at(self, after: uuid.UUID | None) -> bool:
        return self.ends is not None and self.start == after

    def reset(self, after: uuid.UUID | None, ends: list[uuid.UUID]) -> None:
        self.start, self.ends = after, ends

    def end_of(self, k: int) -> uuid.UUID | None:
        """The end of the k-th chunk from the start; None: the last chunk, to the end."""
        assert self.ends is not None
        return self.ends[k] if k < len(self.ends) else None

    def advance(self, chunks: int) -> None:
        assert self.ends is not None
        if chunks:
            self.start = self.end_of(chunks - 1)
            self.ends = self.ends[chunks:]


@dataclass
class _Round:
    job: Any  # the job's row when the round began
    counties: list[str]
    guard_pid: int


class Redeterminator:
    def __init__(self, engine: AsyncEngine, plans: PlanRegistry, *, chunk_size: int = CHUNK_SIZE,
                 progress: Callable[[dict[str, Any]], None] | None = None,
                 connections: int = CONNECTIONS, round_seconds: float = 10.0) -> None:
        self.engine = engine
        self.plans = plans
        self.chunk_size = chunk_size
        self.progress = progress
        self.connections = connections  # chunks in flight at once
        self.round_seconds = round_seconds  # how long per-person work may be kept waiting

    async def _raw(self) -> Any:
        conn = await self.engine.connect()
        raw = await conn.get_raw_connection()
        return conn, raw.driver_connection

    async def create(self, region_code: str, plan_year: int) -> dict[str, Any]:
        try:
            policy = self.plans.catalog.get(region_code, plan_year)
        except PlanNotFound:
            raise NotFound(f"no plan of region {region_code} for plan year {plan_year}",
                           params={"region_code": region_code, "plan_year": plan_year},
                           code="plan_not_found") from None
        conn, apg = await self._raw()
        try:
            counties = await counties_of(apg, self.plans.catalog, region_code, plan_year)
            total = await repo.count_population(apg, plan_year, counties)
            row = await repo.insert_job(apg, region_code, plan_year, policy.version, total)
            return _job(row)
        finally:
            await conn.close()

    async def get(self, job_id: int) -> dict[str, Any]:
        conn, apg = await self._raw()
        try:
            row = await repo.job(apg, job_id)
        finally:
            await conn.close()
        if row is None:
            raise NotFound(f"no redetermination job {job_id}", code="job_not_found")
        return _job(row)

    async def unfinished(self, region_code: str | None = None,
                         plan_year: int | None = None) -> list[dict[str, Any]]:
        conn, apg = await self._raw()
        try:
            rows = await repo.jobs_in(apg, UNFINISHED, region_code, plan_year)
        finally:
            await conn.close()
        return [_job(r) for r in rows]

    async def run(self, job_id: int, *, stop: asyncio.Event | None = None,
                  max_chunks: int | None = None) -> dict[str, Any]:
        """Work through the job chunk by chunk until done, `stop` is set or max_chunks ran."""
        chunks = 0
        plan = _Plan()
        while not (stop is not None and stop.is_set()):
            if max_chunks is not None and chunks >= max_chunks:
                break
            job, n = await self._round(job_id, plan, stop,
                                       None if max_chunks is None else max_chunks - chunks)
            chunks += n
            if job["status"] not in UNFINISHED:
                return job
        return await self.get(job_id)

    async def _round(self, job_id: int, plan: _Plan, stop: asyncio.Event | None,
                     limit: int | None) -> tuple[dict[str, Any], int]:
        """Chunks one after the other while holding the determination lock (at least one per
        connection, then new ones for round_seconds), then let per-person work in; returns the
        job and the chunks committed.

        The lock is held by a guard transaction on a connection of its own, so that the chunks
        (each its own transaction, with its progress) can run on `connections` others at once:
        while one chunk writes, the next is read, computed and written too. Chunk k+1 commits
        only after chunk k did and only if the progress marker is where it begins (else it
        rolls back): the committed progress always means "everyone up to here is done", and a
        crash loses only the chunks in flight."""
        guard_conn, guard = await self._raw()
        workers: list[tuple[Any, asyncpg.Connection]] = []
        tasks: list[asyncio.Task[dict[str, Any] | None]] = []
        try:
            async with guard.transaction():
                await repo.lock_determinations(guard)
                job = await repo.job(guard, job_id)
                if job is None:
                    raise NotFound(f"no redetermination job {job_id}", code="job_not_found")
                if job["status"] not in UNFINISHED:
                    return _job(job), 0
                counties = await counties_of(guard, self.plans.catalog, job["region_code"],
                                             job["plan_year"])
                after: uuid.UUID | None = job["last_person_id"]
                if not plan.starts_at(after):
                    await repo.set_work_mem(guard)
                    plan.reset(after, await repo.chunk_ends(guard, job["plan_year"], counties, after,
                                                       self.chunk_size))
                ctx = _Round(job=job, counties=counties, guard_pid=guard.get_server_pid())
                started = time.monotonic()
                for k in itertools.count():
                    if (limit is not None and k >= limit) or (stop is not None and stop.is_set())\
                            or (k >= self.connections
                                and time.monotonic() - started > self.round_seconds):
                        break
                    if k < self.connections:
                        workers.append(await self._raw())
                    else:  # the connection's previous chunk must be over
                        await asyncio.wait([tasks[k - self.connections]])
                        if any(t.done() and not _committed(t) for t in tasks):
                            break  # a chunk was not committed: the rest would not be either
                    upto = plan.end_of(k)
                    tasks.append(asyncio.create_task(self._chunk(
                        workers[k % self.connections][1], ctx, after, upto,
                        tasks[-1] if tasks else None)))
                    if upto is None:
                        break  # the last chunk
                    after = upto
                results = await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for t in tasks:
                t.cancel()
            for conn, _ in workers:
                await conn.close()
            await guard_conn.close()
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        finished = [r for r in results if isinstance(r, dict)]
        plan.advance(len([r for r in finished if r["status"] != "failed"]))
        return (finished[-1] if finished else await self.get(job_id)), len(finished)

    async def _chunk(self, apg: asyncpg.Connection, ctx: _Round, after: uuid.UUID | None,
                     upto: uuid.UUID | None,
                     previous: asyncio.Task[dict[str, Any] | None] | None,
                     ) -> dict[str, Any] | None:
        """The persons after < person_id <= upto, in one transaction with the job's progress;
        None when it was not committed (an earlier chunk was not, or the job was finished or
        failed meanwhile)."""
        job_id = ctx.job["id"]
        try:
            async with apg.transaction():
                row = await self._chunk_in_tx(apg, ctx, after, upto, previous)
                if row is None:
                    raise _NotCommitted
                committing = time.perf_counter()
            log.debug("chunk after %s: commit %.3fs", after, time.perf_counter() - committing)
        except _NotCommitted:
            return None
        except Exception as exc:
            if isinstance(exc, (asyncpg.PostgresConnectionError, OSError)):
                raise
            if previous is not None:
                await asyncio.wait([previous])  # its own failure is recorded by itself
                if not _committed(previous):
                    return None
            if isinstance(exc, asyncpg.UniqueViolationError) and \
                    not await repo.holds_determination_lock(apg, ctx.guard_pid):
                # the guard lost the lock, and per-person work gave someone of the chunk a
                # current row after the chunk found none: a later round does the chunk again
                log.warning("redetermination job %s: the guard lost the determination lock; "
                            "the chunk after %s is rolled back", job_id, after)
                return None
            log.exception("redetermination job %s failed", job_id)
            row = await repo.fail_job(apg, job_id, repr(exc))
        job = _job(row)
        if self.progress:
            self.progress(job)
        return job

    async def _chunk_in_tx(self, apg: asyncpg.Connection, ctx: _Round, after: uuid.UUID | None,
                           upto: uuid.UUID | None,
                           previous: asyncio.Task[dict[str, Any] | None] | None) -> Any:
        await repo.set_work_mem(apg)
        region, year = ctx.job["region_code"], ctx.job["plan_year"]
        policy = self.plans.catalog.get(region, year)
        t0 = time.perf_counter()
        staged = await stage_chunk(apg, year, ctx.counties, after, upto)
        t1 = time.perf_counter()
        changed = adjustments = 0
        if staged is not None:
            outcome = compute_staged(policy, staged)
            t2 = time.perf_counter()
            changed, adjustments = await self._write(apg, ctx, policy, after, staged, outcome)
        else:
            t2 = t1
        t3 = time.perf_counter()
        if previous is not None:  # commit in order, after the chunk before
            await asyncio.wait([previous])
        if not await repo.holds_determination_lock(apg, ctx.guard_pid):
            log.warning("redetermination job %s: the guard lost the determination lock; "
                        "the chunk after %s is rolled back", ctx.job["id"], after)
            return None
        last = upto or (staged.last_person_id if staged is not None else None)
        return await repo.record_chunk(
            apg, ctx.job["id"], processed=staged.n if staged else 0, changed=changed,
            adjustments=adjustments, last=last, seconds=(t1 - t0, t2 - t1, t3 - t2),
            done=upto is None, unfinished=UNFINISHED, after=after)

    async def _write(self, apg: asyncpg.Connection, ctx: _Round, policy: Any,
                     after: uuid.UUID | None, staged: Staged, outcome: Outcome,
                     ) -> tuple[int, int]:
        region, year, job_id = ctx.job["region_code"], ctx.job["plan_year"], ctx.job["id"]
        t2 = time.perf_counter()
        now = await repo.now(apg)
        await repo.stage_results(apg, staged.n, outcome.key, staged.shard, outcome.results,
                                 (year, region, policy.version, now))
        explanations = await repo.new_explanations(apg)
        if explanations:
            conn, own = await self._raw()
            try:
                await repo.store_explanations(own, explanations)
            finally:
                await conn.close()
        steps = [time.perf_counter()]
        changed = await repo.keep_changed(apg, year, region, after, staged.last_person_id)
        steps.append(time.perf_counter())
        adjustments = 0
        if changed:
            adjustments, writes = await repo.write_changed(
                apg, year, region, policy.version, now, f"redetermination:{job_id}")
            steps += writes[1:]
        log.debug("chunk write: copy %.2fs, compare %.2fs, then determinations, new current, "
                  "replaced current, outbox, adjustments: %s", steps[0] - t2, steps[1] - steps[0],
                  ", ".join(f"{b - a:.2f}s" for a, b in zip(steps[1:], steps[2:], strict=False)))
        await repo.drop_chunk_tables(apg)
        return changed, adjustments
