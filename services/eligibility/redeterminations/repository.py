"""The redetermination's statements: the enrolled population read or staged chunk by chunk, the
chunk's results staged and compared with the current determinations, the changed people's rows
and events written set-wise, and the job's row.

The chunk works in temporary tables dropped at commit: redet_in (the staged people, row i = the
i-th in person_id order), redet_out (each person's result key and outbox shard), redet_results
(the distinct results) and redet_changed (the people whose result changed)."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import numpy as np

from contracts.eligibility import AdjustmentDue, DeterminationChanged
from kernels.policy import GROUP_CODES, INSURED_CATEGORIES
from services.eligibility.determinations.repository import (
    DETERMINATION_LOCK,
    REPLACED,
    explanation_id,
)
from services.eligibility.redeterminations import pgbinary
from shared.outbox import Outbox

log = logging.getLogger(__name__)
S = "eligibility"
_OUTBOX = Outbox(S)
WORK_MEM = "64MB"  # a chunk's joins in memory

STAGE = "redet_in"
NULL_DAY = -(2**31)  # an int4 day number standing for NULL in the binary COPY
_UUID0 = uuid.UUID(int=0)
_UUID_MAX = uuid.UUID(int=2**128 - 1)
_GROUP_LIST = ", ".join(f"'{c}'" for c in GROUP_CODES)  # codes are plain identifiers
_CAT_LIST = ", ".join(f"'{c}'" for c in INSURED_CATEGORIES)

_STAGE_RESULTS = [
    "CREATE TEMP TABLE redet_out (i int4, k int4, shard int2) ON COMMIT DROP",
    """CREATE TEMP TABLE redet_results (k int4, insured_category text, standard_fen int8,
        personal_fen int8, surcharge_fen int8, coverage_start date, subsidies jsonb,
        trace jsonb, assumptions jsonb, on_time_until date, payable_until date, late jsonb,
        payload jsonb, explanation_id uuid) ON COMMIT DROP""",
]
_RESULT_COLUMNS = ("k", "insured_category", "standard_fen", "personal_fen", "surcharge_fen",
                   "coverage_start", "subsidies", "trace", "assumptions", "on_time_until",
                   "payable_until", "late")
# what the events of everyone with the same result share
_SHARED_PAYLOAD = f"""UPDATE redet_results SET payload = jsonb_build_object(
    'plan_year', $1::int, 'region_code', $2::text, 'policy_version', $3::text,
    'insured_category', insured_category, 'standard_fen', standard_fen,
    'personal_fen', personal_fen, 'surcharge_fen', surcharge_fen, 'subsidies', subsidies,
    'coverage_start', coverage_start, 'on_time_until', on_time_until,
    'payable_until', payable_until, 'late', late, 'determined_at', $4::timestamptz),
    explanation_id = {explanation_id("assumptions", "trace")}"""
# the distinct explanations of the chunk's results not stored yet (migration 0006)
_NEW_EXPLANATIONS = f"""SELECT DISTINCT ON (explanation_id) explanation_id, assumptions::text,
        trace::text
    FROM redet_results r
    WHERE NOT EXISTS (SELECT FROM {S}.explanations x WHERE x.id = r.explanation_id)"""


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

# a changed person's current row, from redet_changed r and redet_results x ($1 plan year, $2
# region, $3 plan version, $4 determined at): inserted for those who had none, replaced for the
# others. Two statements, not an upsert: redet_changed knows who had one (under the
# determination lock), and a plain insert of 250 k rows costs 0.9 s against the upsert's 1.5 s.
_CURRENT_VALUES = {
    "determination_id": "r.det_id", "policy_version": "$3", "county_code": "r.county_code",
    "township_code": "r.township_code", "village_code": "r.village_code",
    "standard_fen": "x.standard_fen", "personal_fen": "x.personal_fen",
    "subsidies": "x.subsidies", "enrolled": "r.enrolled", "region_code": "$2",
    "insured_category": "x.insured_category", "surcharge_fen": "x.surcharge_fen",
    "coverage_start": "x.coverage_start", "determined_at": "$4",
    "on_time_until": "x.on_time_until", "payable_until": "x.payable_until", "late": "x.late"}
assert set(_CURRENT_VALUES) == set(REPLACED)  # every column a newer determination replaces
_NEW_CURRENT = f"""INSERT INTO {S}.current_determinations (person_id, plan_year,
            {", ".join(_CURRENT_VALUES)})
        SELECT r.person_id, $1, {", ".join(_CURRENT_VALUES.values())}
        FROM redet_changed r JOIN redet_results x ON x.k = r.k WHERE NOT r.had_current"""
_REPLACED_CURRENT = f"""UPDATE {S}.current_determinations c
        SET {", ".join(f"{c} = {v}" for c, v in _CURRENT_VALUES.items())}
        FROM redet_changed r JOIN redet_results x ON x.k = r.k
        WHERE r.had_current AND c.person_id = r.person_id AND c.plan_year = $1"""

_WRITE = [
    f"""INSERT INTO {S}.determinations (id, person_id, plan_year, policy_version,
            insured_category, standard_fen, personal_fen, surcharge_fen, subsidies,
            coverage_start, explanation_id, cause, determined_at, enrolled, region_code,
            county_code, township_code, village_code, on_time_until, payable_until, late)
        SELECT r.det_id, r.person_id, $1, $3, x.insured_category, x.standard_fen,
               x.personal_fen, x.surcharge_fen, x.subsidies, x.coverage_start,
               x.explanation_id, $5, $4, r.enrolled, $2, r.county_code, r.township_code, r.village_code,
               x.on_time_until, x.payable_until, x.late
        FROM redet_changed r JOIN redet_results x ON x.k = r.k""",
    _NEW_CURRENT,
    _REPLACED_CURRENT,
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


# --- the population ---------------------------------------------------------------------------

async def enrolled_counties(conn: asyncpg.Connection, plan_year: int) -> list[str]:
    rows = await conn.fetch(
        f"SELECT DISTINCT county_code FROM {S}.enrollments WHERE plan_year = $1", plan_year)
    return [r[0] for r in rows]


async def count_population(conn: asyncpg.Connection, plan_year: int, counties: list[str]) -> int:
    return int(await conn.fetchval(
        f"SELECT count(*) FROM {S}.enrollments WHERE plan_year = $1 AND county_code = ANY($2)",
        plan_year, counties))


async def people(conn: asyncpg.Connection, plan_year: int, counties: list[str],
                 after: uuid.UUID | None, limit: int, *, registered_only: bool = False,
                 ) -> list[asyncpg.Record]:
    """Up to `limit` people enrolled after `after`, in person_id order: (person_id, birth day,
    category, registered?, registered day, county, township, village)."""
    rows: list[asyncpg.Record] = await conn.fetch(f"""
        SELECT e.person_id, p.birth_date - DATE '1970-01-01', e.insured_category,
               e.status = 'registered', e.registered_on - DATE '1970-01-01',
               e.county_code, e.township_code, e.village_code
        FROM {S}.enrollments e JOIN {S}.persons p USING (person_id)
        WHERE e.plan_year = $1 AND e.county_code = ANY($2) AND e.person_id > $3
              {"AND e.status = 'registered'" if registered_only else ""}
        ORDER BY e.person_id LIMIT $4""",
        plan_year, counties, after or uuid.UUID(int=0), limit)
    return rows


async def groups_between(conn: asyncpg.Connection, first: uuid.UUID,
                         last: uuid.UUID) -> list[asyncpg.Record]:
    """The group memberships not removed of the people first..last: (person_id, group, certified
    day, end day, later birth day)."""
    rows: list[asyncpg.Record] = await conn.fetch(f"""
        SELECT person_id, group_code, certified_on - DATE '1970-01-01',
               ends_on - DATE '1970-01-01', later_birth_on - DATE '1970-01-01'
        FROM {S}.person_groups
        WHERE person_id >= $1 AND person_id <= $2 AND NOT removed""", first, last)
    return rows


async def chunk_ends(conn: asyncpg.Connection, plan_year: int, counties: list[str],
                     after: uuid.UUID | None, size: int) -> list[uuid.UUID]:
    """The person_id of every size-th person enrolled after `after` (in person_id order): the
    ends of the chunks to come, the last chunk running from the last of them to the end.

    One pass over the enrollments (a sequential scan and a sort, not the primary key's index
    scan the planner would pick: a heap page per row where the heap is not in person_id order)
    instead of a LIMIT per chunk: a chunk read as a range of person_id visits each heap page
    once (bitmap scan) instead of once per row."""
    rows = await conn.fetch(f"""
        WITH ids AS MATERIALIZED (
            SELECT person_id FROM {S}.enrollments
            WHERE plan_year = $1 AND county_code = ANY($2) AND person_id > $3)
        SELECT person_id FROM (
            SELECT person_id, row_number() OVER (ORDER BY person_id) AS n FROM ids) s
        WHERE n % $4 = 0 ORDER BY person_id""", plan_year, counties, after or _UUID0, size)
    return [r[0] for r in rows]


async def stage_people(conn: asyncpg.Connection, plan_year: int, counties: list[str],
                       after: uuid.UUID | None, upto: uuid.UUID | None) -> int:
    """Stage the persons enrolled with after < person_id <= upto (None: no bound) in redet_in;
    how many. With none, redet_in is dropped again."""
    after = after or _UUID0
    upto = upto or _UUID_MAX
    status = await conn.execute(f"""
        CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS
        SELECT (row_number() OVER (ORDER BY e.person_id) - 1)::int4 AS i, e.person_id,
               e.county_code, e.township_code, e.village_code,
               e.status = 'registered' AS enrolled,
               p.birth_date - DATE '1970-01-01' AS birth,
               (CASE WHEN e.insured_category IS NULL THEN -1
                     ELSE coalesce(array_position(ARRAY[{_CAT_LIST}], e.insured_category) - 1,
                                   -2) END)::int2 AS category,
               coalesce(e.registered_on - DATE '1970-01-01', {NULL_DAY}) AS registered
        FROM {S}.enrollments e JOIN {S}.persons p ON p.person_id = e.person_id
        WHERE e.plan_year = $1 AND e.county_code = ANY($2)
              AND e.person_id > $3 AND e.person_id <= $4
              AND p.person_id > $3 AND p.person_id <= $4""", plan_year, counties, after, upto)
    n = int(status.split()[-1])
    if n == 0:
        await conn.execute(f"DROP TABLE {STAGE}")
    return n


async def staged_people(conn: asyncpg.Connection) -> tuple[np.ndarray, ...]:
    """The staged people's columns (binary COPY): i, person_id, birth, category, enrolled,
    registered; a day NULL is NULL_DAY."""
    return await pgbinary.copy_out(
        conn, f"SELECT i, person_id, birth, category, enrolled, registered FROM {STAGE}",
        ("int4", "uuid", "int4", "int2", "bool", "int4"))


async def staged_groups(conn: asyncpg.Connection, first: uuid.UUID,
                        last: uuid.UUID) -> tuple[np.ndarray, ...]:
    """The staged people's group memberships (binary COPY): row i, group index, certified,
    ends, later birth (days; NULL is NULL_DAY); `first`/`last`: the staged person_id range."""
    return await pgbinary.copy_out(conn, f"""
        SELECT r.i, (array_position(ARRAY[{_GROUP_LIST}], g.group_code) - 1)::int2,
               coalesce(g.certified_on - DATE '1970-01-01', {NULL_DAY}),
               coalesce(g.ends_on - DATE '1970-01-01', {NULL_DAY}),
               coalesce(g.later_birth_on - DATE '1970-01-01', {NULL_DAY})
        FROM {S}.person_groups g JOIN {STAGE} r ON r.person_id = g.person_id
        WHERE NOT g.removed AND g.group_code IN ({_GROUP_LIST})
              AND g.person_id BETWEEN '{first}' AND '{last}'""",
        ("int4", "int2", "int4", "int4", "int4"))


# --- a chunk's results --------------------------------------------------------------------------

async def set_work_mem(conn: asyncpg.Connection) -> None:
    await conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")


async def now(conn: asyncpg.Connection) -> dt.datetime:
    value: dt.datetime = await conn.fetchval("SELECT now()")
    return value


async def stage_results(conn: asyncpg.Connection, n: int, keys: np.ndarray, shards: np.ndarray,
                        results: Sequence[tuple[Any, ...]], params: tuple[Any, ...]) -> None:
    """redet_out: each person's key and outbox shard (binary COPY); redet_results: the
    distinct results the keys point to, with the part of the event payload they share
    (`params`: plan year, region, policy version, determined at)."""
    for stmt in _STAGE_RESULTS:
        await conn.execute(stmt)
    await pgbinary.copy_in(conn, "redet_out", ("i", "k", "shard"), [
        ("int4", np.arange(n, dtype=np.int32)), ("int4", keys), ("int2", shards)])
    await conn.copy_records_to_table(
        "redet_results", columns=_RESULT_COLUMNS,
        records=[(k, *r) for k, r in enumerate(results)])
    await conn.execute(_SHARED_PAYLOAD, *params)
    for table in (STAGE, "redet_out", "redet_results"):
        await conn.execute(f"ANALYZE {table}")


async def new_explanations(conn: asyncpg.Connection) -> list[tuple[uuid.UUID, str, str]]:
    """The staged results' explanations not stored yet: (id, assumptions, trace as JSON)."""
    return [tuple(r) for r in await conn.fetch(_NEW_EXPLANATIONS)]  # type: ignore[misc]


async def store_explanations(conn: asyncpg.Connection,
                             rows: Sequence[tuple[uuid.UUID, str, str]]) -> None:
    """Store explanations (new_explanations' rows); those stored meanwhile are left as they are.
    Run on a connection of its own, outside the chunk's transaction: a chunk in flight keeps its
    new rows locked until it commits, and the other chunks would wait for it to store the same
    explanation (a chunk that then rolls back leaves its explanations, which are content: the
    next run names them again)."""
    await conn.executemany(
        f"""INSERT INTO {S}.explanations (id, assumptions, trace)
            VALUES ($1, $2::jsonb, $3::jsonb) ON CONFLICT (id) DO NOTHING""", rows)


async def keep_changed(conn: asyncpg.Connection, plan_year: int, region_code: str,
                       after: uuid.UUID | None, last: uuid.UUID) -> int:
    """redet_changed: the staged people whose result differs from their current determination;
    how many."""
    status = await conn.execute(_CHANGED, plan_year, region_code, after or uuid.UUID(int=0),
                                last)
    return int(status.split()[-1])


async def write_changed(conn: asyncpg.Connection, plan_year: int, region_code: str,
                        version: str, now: dt.datetime, cause: str) -> tuple[int, list[float]]:
    """The changed people's determinations, current rows (new, then replaced), events and
    adjustments due; the adjustments written and the time of each step."""
    prefix = uuid.uuid4().hex  # 32 hex digits; see _event_id
    steps = [time.perf_counter()]
    status = ""
    current = (plan_year, region_code, version, now)
    for stmt, params in ((_WRITE[0], (plan_year, region_code, version, now, cause)),
                         (_WRITE[1], current), (_WRITE[2], current),
                         (_WRITE[3], (prefix,)), (_ADJUST, (prefix, plan_year))):
        status = await conn.execute(stmt, *params)
        steps.append(time.perf_counter())
    return int(status.split()[-1]), steps


async def drop_chunk_tables(conn: asyncpg.Connection) -> None:
    await conn.execute(f"DROP TABLE redet_changed, redet_results, redet_out, {STAGE}")


# --- the job ----------------------------------------------------------------------------------

async def insert_job(conn: asyncpg.Connection, region_code: str, plan_year: int, version: str,
                     total: int) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        f"""INSERT INTO {S}.redetermination_jobs (region_code, plan_year,
                policy_version, status, total) VALUES ($1, $2, $3, 'queued', $4)
            RETURNING *""", region_code, plan_year, version, total)
    return row


async def job(conn: asyncpg.Connection, job_id: int) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT * FROM {S}.redetermination_jobs WHERE id = $1", job_id)
    return row


async def jobs_in(conn: asyncpg.Connection, statuses: Sequence[str], region_code: str | None,
                  plan_year: int | None) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT * FROM {S}.redetermination_jobs WHERE status = ANY($1)
            AND ($2::text IS NULL OR region_code = $2)
            AND ($3::int IS NULL OR plan_year = $3) ORDER BY id""",
        list(statuses), region_code, plan_year)
    return rows


async def lock_determinations(conn: asyncpg.Connection) -> None:
    """Keep per-person determination work out until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *DETERMINATION_LOCK)


async def holds_determination_lock(conn: asyncpg.Connection, pid: int) -> bool:
    """Whether the backend `pid` (the guard) still holds the determination lock."""
    row = await conn.fetchrow(
        """SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory'
            AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2
            AND pid = $3 AND granted AND mode = 'ExclusiveLock')""",
        DETERMINATION_LOCK[0], DETERMINATION_LOCK[1], pid)
    return bool(row[0])


async def record_chunk(conn: asyncpg.Connection, job_id: int, *, processed: int, changed: int,
                       adjustments: int, last: uuid.UUID | None, seconds: tuple[float, ...],
                       done: bool, unfinished: Sequence[str],
                       after: uuid.UUID | None) -> asyncpg.Record | None:
    """The chunk's progress on the job, only if the job's marker is still where the chunk
    began (`after`) and the job unfinished; the job's row, None otherwise. `seconds`: read,
    compute, write."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""UPDATE {S}.redetermination_jobs SET status = $9,
            finished_at = CASE WHEN $9 = 'done' THEN now() END,
            processed = processed + $2, changed = changed + $3,
            adjustments = adjustments + $4, last_person_id = coalesce($5, last_person_id),
            read_seconds = read_seconds + $6, compute_seconds = compute_seconds + $7,
            write_seconds = write_seconds + $8, updated_at = now()
        WHERE id = $1 AND status = ANY($10) AND last_person_id IS NOT DISTINCT FROM $11
        RETURNING *""",
        job_id, processed, changed, adjustments, last, *seconds,
        "done" if done else "running", list(unfinished), after)
    return row


async def fail_job(conn: asyncpg.Connection, job_id: int, error: str) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        f"""UPDATE {S}.redetermination_jobs SET status = 'failed', error = $2,
            updated_at = now() WHERE id = $1 RETURNING *""", job_id, error)
    return row
