"""Re-determine a region's whole enrolled population, in resumable chunks.

Each chunk (a range of person_id) is one transaction: stage the people in a temporary table and
bring their facts to numpy through a binary COPY (population.stage_chunk), determine in bulk
(determine_batch), COPY back one key per person into the distinct results, and in SQL keep only
the people whose result changed: their determinations, current rows and outbox events (changed,
and adjustment due where the person already paid more than is now due) are written set-wise,
with the job's progress in the same transaction. A restart continues after the last person of
the last committed chunk.

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
import numpy as np
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.eligibility import AdjustmentDue, DeterminationChanged
from kernels.policy import INSURED_CATEGORIES, PlanNotFound
from services.eligibility.determinations.repository import DETERMINATION_LOCK
from services.eligibility.plans.registry import PlanRegistry
from services.eligibility.redeterminations import pgbinary
from services.eligibility.redeterminations.population import (
    STAGE,
    Outcome,
    Staged,
    chunk_ends,
    compute_staged,
    count_population,
    counties_of,
    stage_chunk,
)
from shared.errors import NotFound
from shared.outbox import Outbox

log = logging.getLogger(__name__)
S = "eligibility"
UNFINISHED = ("queued", "running")
_OUTBOX = Outbox(S)
_WORK_MEM = "64MB"

_CATEGORIES = "ARRAY[" + ", ".join(f"'{c}'" for c in INSURED_CATEGORIES) + "]"

_STAGE_RESULTS = [
    "CREATE TEMP TABLE redet_out (i int4, k int4, shard int2) ON COMMIT DROP",
    """CREATE TEMP TABLE redet_results (k int4, insured_category text, standard_fen int8,
        personal_fen int8, surcharge_fen int8, coverage_start date, subsidies jsonb,
        trace jsonb, assumptions jsonb, on_time_until date, payable_until date, late jsonb,
        payload jsonb) ON COMMIT DROP""",
]
_RESULT_COLUMNS = ("k", "insured_category", "standard_fen", "personal_fen", "surcharge_fen",
                   "coverage_start", "subsidies", "trace", "assumptions", "on_time_until",
                   "payable_until", "late")
# what the events of everyone with the same result share
_SHARED_PAYLOAD = """UPDATE redet_results SET payload = jsonb_build_object(
    'plan_year', $1::int, 'region_code', $2::text, 'policy_version', $3::text,
    'insured_category', insured_category, 'standard_fen', standard_fen,
    'personal_fen', personal_fen, 'surcharge_fen', surcharge_fen, 'subsidies', subsidies,
    'coverage_start', coverage_start, 'on_time_until', on_time_until,
    'payable_until', payable_until, 'late', late, 'determined_at', $4::timestamptz)"""


def _event_id(kind: str) -> str:
    """A UUIDv8 made of the job's random prefix, the event kind and the determination id.

    Unique (a determination id is never reused), and increasing within a chunk, so the outbox's
    unique index on event_id takes 1.5 million new ids at its right edge instead of at random
    places (random v4 ids made the outbox insert the slowest step of a whole-county run).
    """
    return (f"(substr($1::text, 1, 12) || '8' || substr($1::text, 14, 3) || '8{kind}' || "
            "substr($1::text, 19, 2) || lpad(to_hex(r.det_id), 12, '0'))::uuid")


# eligibility.determination.v1 (docs/EVENTS.md): the person's own fields and the shared ones
_PAYLOAD = """(jsonb_build_object(
    'person_id', r.person_id, 'revision', r.det_id, 'enrolled', r.enrolled,
    'county_code', r.county_code, 'township_code', r.township_code,
    'village_code', r.village_code) || x.payload)"""

# the staged people (redet_in) with their results (redet_out, redet_results), keeping only those
# whose result differs from their current determination (looked up in the chunk's range)
_CHANGED = f"""CREATE TEMP TABLE redet_changed ON COMMIT DROP AS
        SELECT n.person_id, n.enrolled, n.county_code, n.township_code, n.village_code,
               o.k, o.shard, nextval('{S}.determinations_id_seq') AS det_id,
               (c.person_id IS NOT NULL) AS had_current
        FROM {STAGE} n JOIN redet_out o ON o.i = n.i JOIN redet_results x ON x.k = o.k
             LEFT JOIN {S}.current_determinations c
             ON c.person_id = n.person_id AND c.plan_year = $1
                AND c.person_id BETWEEN $3 AND $4
        WHERE c.person_id IS NULL OR NOT (
            c.enrolled = n.enrolled AND c.region_code = $2
            AND c.county_code = n.county_code
            AND c.township_code IS NOT DISTINCT FROM n.township_code
            AND c.village_code IS NOT DISTINCT FROM n.village_code
            AND c.insured_category = x.insured_category AND c.standard_fen = x.standard_fen
            AND c.personal_fen = x.personal_fen AND c.surcharge_fen = x.surcharge_fen
            AND c.subsidies = x.subsidies
            AND c.coverage_start IS NOT DISTINCT FROM x.coverage_start
            AND c.on_time_until IS NOT DISTINCT FROM x.on_time_until
            AND c.payable_until IS NOT DISTINCT FROM x.payable_until
            AND c.late IS NOT DISTINCT FROM x.late)"""

_WRITE = [
    f"""INSERT INTO {S}.determinations (id, person_id, plan_year, policy_version,
            insured_category, standard_fen, personal_fen, surcharge_fen, subsidies,
            coverage_start, assumptions, trace, cause, determined_at, enrolled, region_code,
            county_code, township_code, village_code, on_time_until, payable_until, late)
        SELECT r.det_id, r.person_id, $1, $3, x.insured_category, x.standard_fen,
               x.personal_fen, x.surcharge_fen, x.subsidies, x.coverage_start, x.assumptions,
               x.trace, $5, $4, r.enrolled, $2, r.county_code, r.township_code, r.village_code,
               x.on_time_until, x.payable_until, x.late
        FROM redet_changed r JOIN redet_results x ON x.k = r.k""",
    f"""INSERT INTO {S}.current_determinations AS c (person_id, plan_year, determination_id,
            policy_version, county_code, township_code, village_code, standard_fen,
            personal_fen, subsidies, enrolled, region_code, insured_category, surcharge_fen,
            coverage_start, determined_at, on_time_until, payable_until, late)
        SELECT r.person_id, $1, r.det_id, $3, r.county_code, r.township_code, r.village_code,
               x.standard_fen, x.personal_fen, x.subsidies, r.enrolled, $2, x.insured_category,
               x.surcharge_fen, x.coverage_start, $4, x.on_time_until, x.payable_until, x.late
        FROM redet_changed r JOIN redet_results x ON x.k = r.k
        ON CONFLICT (person_id, plan_year) DO UPDATE SET
            determination_id = EXCLUDED.determination_id,
            policy_version = EXCLUDED.policy_version, county_code = EXCLUDED.county_code,
            township_code = EXCLUDED.township_code, village_code = EXCLUDED.village_code,
            standard_fen = EXCLUDED.standard_fen, personal_fen = EXCLUDED.personal_fen,
            subsidies = EXCLUDED.subsidies, enrolled = EXCLUDED.enrolled,
            region_code = EXCLUDED.region_code, insured_category = EXCLUDED.insured_category,
            surcharge_fen = EXCLUDED.surcharge_fen, coverage_start = EXCLUDED.coverage_start,
            determined_at = EXCLUDED.determined_at, on_time_until = EXCLUDED.on_time_until,
            payable_until = EXCLUDED.payable_until, late = EXCLUDED.late""",
    _OUTBOX.insert_select(
        DeterminationChanged, event_id=_event_id("1"), key="r.person_id::text", shard="r.shard",
        data=_PAYLOAD, source_rows="redet_changed r JOIN redet_results x ON x.k = r.k"),
]

_ADJUSTMENTS = _OUTBOX.insert_select(
    AdjustmentDue, event_id=_event_id("2"), key="r.person_id::text", shard="r.shard",
    data=f"{_PAYLOAD} || jsonb_build_object('paid_fen', r.paid, 'refund_due_fen', r.refund)",
    source_rows="due r JOIN redet_results x ON x.k = r.k WHERE r.refund > 0")
_ADJUST = f"""
    WITH paid AS (
        SELECT p.person_id,
               sum(CASE WHEN p.kind = 'paid' THEN p.amount_fen ELSE -p.amount_fen END) AS paid,
               (max(p.paid_at) FILTER (WHERE p.kind = 'paid')
                AT TIME ZONE 'Asia/Shanghai')::date AS paid_on
        FROM {S}.payment_entries p JOIN redet_changed r USING (person_id)
        WHERE p.plan_year = $2 AND p.payer = 'person' AND r.had_current
        GROUP BY p.person_id),
    due AS (
        SELECT r.*, paid.paid,
               paid.paid - CASE WHEN NOT r.enrolled THEN 0
                                WHEN x.late IS NOT NULL AND paid.paid_on > x.on_time_until
                                THEN (x.late->>'personal_fen')::int8
                                ELSE x.personal_fen END AS refund
        FROM redet_changed r JOIN paid USING (person_id) JOIN redet_results x ON x.k = r.k)
    {_ADJUSTMENTS}"""


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
    def __init__(self, engine: AsyncEngine, plans: PlanRegistry, *, chunk_size: int = 100_000,
                 progress: Callable[[dict[str, Any]], None] | None = None,
                 connections: int = 2, round_seconds: float = 10.0) -> None:
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
            total = await count_population(apg, plan_year, counties)
            row = await apg.fetchrow(
                f"""INSERT INTO {S}.redetermination_jobs (region_code, plan_year,
                        policy_version, status, total) VALUES ($1, $2, $3, 'queued', $4)
                    RETURNING *""", region_code, plan_year, policy.version, total)
            return _job(row)
        finally:
            await conn.close()

    async def get(self, job_id: int) -> dict[str, Any]:
        conn, apg = await self._raw()
        try:
            row = await apg.fetchrow(
                f"SELECT * FROM {S}.redetermination_jobs WHERE id = $1", job_id)
        finally:
            await conn.close()
        if row is None:
            raise NotFound(f"no redetermination job {job_id}", code="job_not_found")
        return _job(row)

    async def unfinished(self, region_code: str | None = None,
                         plan_year: int | None = None) -> list[dict[str, Any]]:
        conn, apg = await self._raw()
        try:
            rows = await apg.fetch(
                f"""SELECT * FROM {S}.redetermination_jobs WHERE status = ANY($1)
                    AND ($2::text IS NULL OR region_code = $2)
                    AND ($3::int IS NULL OR plan_year = $3) ORDER BY id""",
                list(UNFINISHED), region_code, plan_year)
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
                await guard.execute("SELECT pg_advisory_xact_lock($1, $2)", *DETERMINATION_LOCK)
                job = await guard.fetchrow(
                    f"SELECT * FROM {S}.redetermination_jobs WHERE id = $1", job_id)
                if job is None:
                    raise NotFound(f"no redetermination job {job_id}", code="job_not_found")
                if job["status"] not in UNFINISHED:
                    return _job(job), 0
                counties = await counties_of(guard, self.plans.catalog, job["region_code"],
                                             job["plan_year"])
                after: uuid.UUID | None = job["last_person_id"]
                if not plan.starts_at(after):
                    await guard.execute(f"SET LOCAL work_mem = '{_WORK_MEM}'")
                    plan.reset(after, await chunk_ends(guard, job["plan_year"], counties, after,
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
            log.exception("redetermination job %s failed", job_id)
            row = await apg.fetchrow(
                f"""UPDATE {S}.redetermination_jobs SET status = 'failed', error = $2,
                    updated_at = now() WHERE id = $1 RETURNING *""", job_id, repr(exc))
        job = _job(row)
        if self.progress:
            self.progress(job)
        return job

    async def _chunk_in_tx(self, apg: asyncpg.Connection, ctx: _Round, after: uuid.UUID | None,
                           upto: uuid.UUID | None,
                           previous: asyncio.Task[dict[str, Any] | None] | None) -> Any:
        await apg.execute(f"SET LOCAL work_mem = '{_WORK_MEM}'")  # the chunk's joins in memory
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
        row = await apg.fetchrow(
            """SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory'
                AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2
                AND pid = $3 AND granted AND mode = 'ExclusiveLock')""",
            DETERMINATION_LOCK[0], DETERMINATION_LOCK[1], ctx.guard_pid)
        if not row[0]:
            log.warning("redetermination job %s: the guard lost the determination lock; "
                        "the chunk after %s is rolled back", ctx.job["id"], after)
            return None
        last = upto or (staged.last_person_id if staged is not None else None)
        return await apg.fetchrow(
            f"""UPDATE {S}.redetermination_jobs SET status = $9,
                finished_at = CASE WHEN $9 = 'done' THEN now() END,
                processed = processed + $2, changed = changed + $3,
                adjustments = adjustments + $4, last_person_id = coalesce($5, last_person_id),
                read_seconds = read_seconds + $6, compute_seconds = compute_seconds + $7,
                write_seconds = write_seconds + $8, updated_at = now()
            WHERE id = $1 AND status = ANY($10) AND last_person_id IS NOT DISTINCT FROM $11
            RETURNING *""",
            ctx.job["id"], staged.n if staged else 0, changed, adjustments, last, t1 - t0,
            t2 - t1, t3 - t2, "done" if upto is None else "running", list(UNFINISHED), after)

    async def _write(self, apg: asyncpg.Connection, ctx: _Round, policy: Any,
                     after: uuid.UUID | None, staged: Staged, outcome: Outcome,
                     ) -> tuple[int, int]:
        region, year, job_id = ctx.job["region_code"], ctx.job["plan_year"], ctx.job["id"]
        t2 = time.perf_counter()
        now = await apg.fetchval("SELECT now()")
        await self._stage_results(apg, staged, outcome, (year, region, policy.version, now))
        cause = f"redetermination:{job_id}"
        steps = [time.perf_counter()]
        status = await apg.execute(_CHANGED, year, region, after or uuid.UUID(int=0),
                                   staged.last_person_id)
        changed = int(status.split()[-1])
        steps.append(time.perf_counter())
        prefix = uuid.uuid4().hex  # 32 hex digits; see _event_id
        for stmt, params in ((_WRITE[0], (year, region, policy.version, now, cause)),
                             (_WRITE[1], (year, region, policy.version, now)),
                             (_WRITE[2], (prefix,)), (_ADJUST, (prefix, year))):
            if changed:
                status = await apg.execute(stmt, *params)
            steps.append(time.perf_counter())
        adjustments = int(status.split()[-1]) if changed else 0
        log.debug("chunk write: copy %.2fs, compare %.2fs, determinations %.2fs, current %.2fs,"
                  " outbox %.2fs, adjustments %.2fs", steps[0] - t2,
                  *(b - a for a, b in zip(steps, steps[1:], strict=False)))
        await apg.execute(f"DROP TABLE redet_changed, redet_results, redet_out, {STAGE}")
        return changed, adjustments

    @staticmethod
    async def _stage_results(apg: asyncpg.Connection, staged: Staged, out: Outcome,
                             params: tuple[Any, ...]) -> None:
        """redet_out: each person's key and outbox shard (binary COPY); redet_results: the
        distinct results the keys point to, with the part of the event payload they share."""
        for stmt in _STAGE_RESULTS:
            await apg.execute(stmt)
        await pgbinary.copy_in(apg, "redet_out", ("i", "k", "shard"), [
            ("int4", np.arange(staged.n, dtype=np.int32)), ("int4", out.key),
            ("int2", staged.shard)])
        await apg.copy_records_to_table(
            "redet_results", columns=_RESULT_COLUMNS,
            records=[(k, *r) for k, r in enumerate(out.results)])
        await apg.execute(_SHARED_PAYLOAD, *params)
        for table in (STAGE, "redet_out", "redet_results"):
            await apg.execute(f"ANALYZE {table}")
