"""Re-determine a region's whole enrolled population, in resumable chunks.

Each chunk is one transaction: read the facts, determine in bulk (determine_batch), COPY the
results into a temporary table, and in SQL keep only the people whose result changed: their
determinations, current rows and outbox events (changed, and adjustment due where the person
already paid more than is now due) are written set-wise, with the job's progress in the same
transaction. A restart continues after the last person of the last committed chunk.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import zlib
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from services.eligibility.determinations.repository import DETERMINATION_LOCK
from services.eligibility.determinations.service import ADJUSTMENT_DUE, CHANGED
from services.eligibility.engine import PlanNotFound
from services.eligibility.plans.registry import PlanRegistry
from services.eligibility.redeterminations.population import (
    category_names,
    compute,
    count_population,
    counties_of,
    read_chunk,
)
from shared.errors import NotFound
from shared.outbox import SHARDS
from shared.topics import ELIGIBILITY_DETERMINATION

log = logging.getLogger(__name__)
S = "eligibility"
UNFINISHED = ("queued", "running")

_NEW_COLUMNS = ("person_id", "enrolled", "insured_category", "standard_fen", "personal_fen",
                "surcharge_fen", "subsidies", "trace", "coverage_start", "county_code",
                "township_code", "village_code", "shard")



def _event_id(kind: str) -> str:
    """A UUIDv8 made of the job's random prefix, the event kind and the determination id.

    Unique (a determination id is never reused), and increasing within a chunk, so the outbox's
    unique index on event_id takes 1.5 million new ids at its right edge instead of at random
    places (random v4 ids made the outbox insert the slowest step of a whole-county run).
    """
    return (f"(substr($6::text, 1, 12) || '8' || substr($6::text, 14, 3) || '8{kind}' || "
            "substr($6::text, 19, 2) || lpad(to_hex(r.det_id), 12, '0'))::uuid")


_PAYLOAD = """jsonb_build_object(
    'person_id', r.person_id, 'plan_year', $1::int, 'revision', r.det_id,
    'enrolled', r.enrolled, 'region_code', $2::text, 'county_code', r.county_code,
    'township_code', r.township_code, 'village_code', r.village_code,
    'policy_version', $3::text, 'insured_category', r.insured_category,
    'standard_fen', r.standard_fen, 'personal_fen', r.personal_fen,
    'surcharge_fen', r.surcharge_fen, 'subsidies', r.subsidies,
    'coverage_start', r.coverage_start, 'determined_at', $4::timestamptz)"""

_WRITE = [
    f"""CREATE TEMP TABLE redet_changed ON COMMIT DROP AS
        SELECT n.*, nextval('{S}.determinations_id_seq') AS det_id,
               (c.person_id IS NOT NULL) AS had_current
        FROM redet_new n LEFT JOIN {S}.current_determinations c
             ON c.person_id = n.person_id AND c.plan_year = $1
        WHERE c.person_id IS NULL OR NOT (
            c.enrolled = n.enrolled AND c.region_code = $2
            AND c.county_code = n.county_code
            AND c.township_code IS NOT DISTINCT FROM n.township_code
            AND c.village_code IS NOT DISTINCT FROM n.village_code
            AND c.insured_category = n.insured_category AND c.standard_fen = n.standard_fen
            AND c.personal_fen = n.personal_fen AND c.surcharge_fen = n.surcharge_fen
            AND c.subsidies = n.subsidies
            AND c.coverage_start IS NOT DISTINCT FROM n.coverage_start)""",
    f"""INSERT INTO {S}.determinations (id, person_id, plan_year, policy_version,
            insured_category, standard_fen, personal_fen, surcharge_fen, subsidies,
            coverage_start, assumptions, trace, cause, determined_at, enrolled, region_code,
            county_code, township_code, village_code)
        SELECT det_id, person_id, $1, $3, insured_category, standard_fen, personal_fen,
               surcharge_fen, subsidies, coverage_start, '[]'::jsonb, trace, $5, $4, enrolled,
               $2, county_code, township_code, village_code
        FROM redet_changed""",
    f"""INSERT INTO {S}.current_determinations AS c (person_id, plan_year, determination_id,
            policy_version, county_code, township_code, village_code, standard_fen,
            personal_fen, subsidies, enrolled, region_code, insured_category, surcharge_fen,
            coverage_start, determined_at)
        SELECT person_id, $1, det_id, $3, county_code, township_code, village_code,
               standard_fen, personal_fen, subsidies, enrolled, $2, insured_category,
               surcharge_fen, coverage_start, $4
        FROM redet_changed
        ON CONFLICT (person_id, plan_year) DO UPDATE SET
            determination_id = EXCLUDED.determination_id,
            policy_version = EXCLUDED.policy_version, county_code = EXCLUDED.county_code,
            township_code = EXCLUDED.township_code, village_code = EXCLUDED.village_code,
            standard_fen = EXCLUDED.standard_fen, personal_fen = EXCLUDED.personal_fen,
            subsidies = EXCLUDED.subsidies, enrolled = EXCLUDED.enrolled,
            region_code = EXCLUDED.region_code, insured_category = EXCLUDED.insured_category,
            surcharge_fen = EXCLUDED.surcharge_fen, coverage_start = EXCLUDED.coverage_start,
            determined_at = EXCLUDED.determined_at""",
    f"""INSERT INTO {S}.outbox (event_id, topic, partition_key, shard, event_type, source,
            subject, data)
        SELECT {_event_id('1')}, '{ELIGIBILITY_DETERMINATION}', r.person_id::text, r.shard,
               '{CHANGED}', 'canbao/eligibility', r.person_id::text, {_PAYLOAD}
        FROM redet_changed r
        WHERE $5::text IS NOT NULL""",
]

_ADJUST = f"""
    WITH paid AS (
        SELECT p.person_id,
               sum(CASE WHEN p.kind = 'paid' THEN p.amount_fen ELSE -p.amount_fen END) AS paid
        FROM {S}.payment_entries p JOIN redet_changed r USING (person_id)
        WHERE p.plan_year = $1 AND p.payer = 'person' AND r.had_current
        GROUP BY p.person_id),
    due AS (
        SELECT r.*, paid.paid,
               paid.paid - CASE WHEN r.enrolled THEN r.personal_fen + r.surcharge_fen ELSE 0 END
                 AS refund
        FROM redet_changed r JOIN paid USING (person_id))
    INSERT INTO {S}.outbox (event_id, topic, partition_key, shard, event_type, source, subject,
                            data)
    SELECT {_event_id('2')}, '{ELIGIBILITY_DETERMINATION}', r.person_id::text, r.shard,
           '{ADJUSTMENT_DUE}', 'canbao/eligibility', r.person_id::text,
           {_PAYLOAD} || jsonb_build_object('paid_fen', r.paid, 'refund_due_fen', r.refund)
    FROM due r WHERE r.refund > 0 AND $5::text IS NOT NULL"""


def _job(row: Any) -> dict[str, Any]:
    job = dict(row)
    job["last_person_id"] = str(job["last_person_id"]) if job["last_person_id"] else None
    for k in ("created_at", "updated_at", "finished_at"):
        if job.get(k) is not None:
            job[k] = job[k].isoformat()
    total = job["total"] or 0
    job["percent"] = round(100 * job["processed"] / total, 1) if total else 100.0
    return job


class Redeterminator:
    def __init__(self, engine: AsyncEngine, plans: PlanRegistry, *, chunk_size: int = 100_000,
                 progress: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.engine = engine
        self.plans = plans
        self.chunk_size = chunk_size
        self.progress = progress

    async def _raw(self) -> Any:
        conn = await self.engine.connect()
        raw = await conn.get_raw_connection()
        return conn, raw.driver_connection

    async def create(self, region_code: str, plan_year: int) -> dict[str, Any]:
        try:
            policy = self.plans.catalog.get(region_code, plan_year)
        except PlanNotFound:
            raise NotFound(f"no plan of region {region_code} for plan year {plan_year}",
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
        while not (stop is not None and stop.is_set()):
            if max_chunks is not None and chunks >= max_chunks:
                break
            job = await self._chunk(job_id)
            chunks += 1
            if self.progress:
                self.progress(job)
            if job["status"] not in UNFINISHED:
                return job
        return await self.get(job_id)

    async def _chunk(self, job_id: int) -> dict[str, Any]:
        conn, apg = await self._raw()
        try:
            try:
                async with apg.transaction():
                    return await self._chunk_in_tx(apg, job_id)
            except Exception as exc:
                if isinstance(exc, (asyncpg.PostgresConnectionError, OSError)):
                    raise
                log.exception("redetermination job %s failed", job_id)
                row = await apg.fetchrow(
                    f"""UPDATE {S}.redetermination_jobs SET status = 'failed', error = $2,
                        updated_at = now() WHERE id = $1 RETURNING *""", job_id, repr(exc))
                return _job(row)
        finally:
            await conn.close()

    async def _chunk_in_tx(self, apg: asyncpg.Connection, job_id: int) -> dict[str, Any]:
        await apg.execute("SELECT pg_advisory_xact_lock($1, $2)", *DETERMINATION_LOCK)
        job = await apg.fetchrow(
            f"SELECT * FROM {S}.redetermination_jobs WHERE id = $1 FOR UPDATE", job_id)
        if job is None:
            raise NotFound(f"no redetermination job {job_id}", code="job_not_found")
        if job["status"] not in UNFINISHED:
            return _job(job)
        region, year = job["region_code"], job["plan_year"]
        policy = self.plans.catalog.get(region, year)
        t0 = time.perf_counter()
        counties = await counties_of(apg, self.plans.catalog, region, year)
        chunk = await read_chunk(apg, year, counties, job["last_person_id"], self.chunk_size)
        t1 = time.perf_counter()
        if chunk is None:
            row = await apg.fetchrow(
                f"""UPDATE {S}.redetermination_jobs SET status = 'done', finished_at = now(),
                    updated_at = now(), read_seconds = read_seconds + $2
                    WHERE id = $1 RETURNING *""", job_id, t1 - t0)
            return _job(row)
        res = compute(policy, chunk)
        cats = category_names(res.category)
        shards = [zlib.crc32(str(p).encode()) % SHARDS for p in chunk.person_ids]
        records = list(zip(
            chunk.person_ids, res.enrolled.tolist(), cats, res.standard.tolist(),
            res.personal.tolist(), res.surcharge.tolist(), res.subsidies, res.trace,
            res.coverage, chunk.county, chunk.township, chunk.village, shards, strict=True))
        t2 = time.perf_counter()
        await apg.execute("""CREATE TEMP TABLE redet_new (
            person_id uuid, enrolled boolean, insured_category text, standard_fen bigint,
            personal_fen bigint, surcharge_fen bigint, subsidies jsonb, trace jsonb,
            coverage_start date, county_code text, township_code text, village_code text,
            shard smallint) ON COMMIT DROP""")
        await apg.copy_records_to_table("redet_new", records=records, columns=_NEW_COLUMNS)
        now = await apg.fetchval("SELECT now()")
        cause = f"redetermination:{job_id}"
        steps = [time.perf_counter()]
        await apg.execute(_WRITE[0], year, region)
        steps.append(time.perf_counter())
        changed = int(await apg.fetchval("SELECT count(*) FROM redet_changed"))
        prefix = uuid.uuid4().hex  # 32 hex digits; see _event_id
        for stmt, n_params in ((_WRITE[1], 5), (_WRITE[2], 4), (_WRITE[3], 6), (_ADJUST, 6)):
            if changed:
                status = await apg.execute(stmt, *(year, region, policy.version, now,
                                                   cause, prefix)[:n_params])
            steps.append(time.perf_counter())
        adjustments = int(status.split()[-1]) if changed else 0
        t3 = time.perf_counter()
        log.debug("chunk write: copy %.2fs, compare %.2fs, determinations %.2fs, current %.2fs,"
                  " outbox %.2fs, adjustments %.2fs", steps[0] - t2,
                  *(b - a for a, b in zip(steps, steps[1:], strict=False)))
        row = await apg.fetchrow(
            f"""UPDATE {S}.redetermination_jobs SET status = $9,
                finished_at = CASE WHEN $9 = 'done' THEN now() END,
                processed = processed + $2, changed = changed + $3,
                adjustments = adjustments + $4, last_person_id = $5,
                read_seconds = read_seconds + $6, compute_seconds = compute_seconds + $7,
                write_seconds = write_seconds + $8, updated_at = now()
            WHERE id = $1 RETURNING *""",
            job_id, len(chunk), changed, adjustments, chunk.person_ids[-1], t1 - t0, t2 - t1,
            t3 - t2, "done" if len(chunk) < self.chunk_size else "running")
        await apg.execute("DROP TABLE redet_changed")
        await apg.execute("DROP TABLE redet_new")
        return _job(row)
