"""Benchmark: re-determine a whole county (1.5 million enrolled persons) and persist it.

    python bench/eligibility_redetermine.py [--persons 1500000] [--chunk 250000] [--connections 2]

Creates its own database (on CANBAO_DATABASE_URL's server, or an embedded PostgreSQL 18 under
.canbao/bench-pg), migrates the eligibility schema, loads synthetic persons, enrollments and
group memberships (a few percent per group) with COPY, then runs the redetermination job for
Tengzhou 2025 twice: first with no determinations (everyone new: determinations, current rows
and 1.5 million outbox events written), then again with nothing changed (only reads, compute and
the comparison). Prints the wall time and the time split: read, compute, write, each summed over
the chunks (with --connections 2, two chunks are in flight at once, so the parts overlap and add
up to more than the wall time), and the WAL written.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.infra import EmbeddedPostgres, create_database  # noqa: E402
from kernels.policy import GROUP_CODES, PolicyCatalog  # noqa: E402
from services.eligibility.plans.registry import SEED_DIR, PlanRegistry  # noqa: E402
from services.eligibility.redeterminations.service import Redeterminator  # noqa: E402
from shared.db import make_engine  # noqa: E402
from shared.migrations import upgrade  # noqa: E402
from shared.settings import Settings  # noqa: E402

GROUP_SHARES = {
    "extreme_poverty": 0.004, "minimum_living_allowance": 0.030, "low_income_margin": 0.010,
    "poverty_monitoring": 0.008, "relapsed_poverty": 0.002, "lifted_out_of_poverty": 0.030,
    "orphan": 0.0005, "unsupported_child": 0.0005, "child_in_difficulty": 0.002,
    "severe_disability": 0.015, "entitled_veteran": 0.005, "family_planning_household": 0.020,
}
COUNTY, YEAR = "370481", 2025
TOWNSHIPS = [f"370481{t:03d}000" for t in range(1, 22)]


async def load_population(url: str, n: int) -> None:
    import asyncpg

    rng = np.random.default_rng(20250101)
    raw = rng.bytes(16 * n)
    ids = [uuid.UUID(bytes=raw[i * 16:(i + 1) * 16], version=4) for i in range(n)]
    ages = np.clip(rng.normal(42, 22, n), 0, 100).astype(np.int64)
    birth = [dt.date(YEAR - int(a), 1, 1) + dt.timedelta(days=int(d))
             for a, d in zip(ages, rng.integers(0, 365, n), strict=True)]
    town = rng.integers(0, len(TOWNSHIPS), n)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.copy_records_to_table(
            "persons", schema_name="eligibility",
            columns=["person_id", "birth_date", "county_code", "township_code", "revision"],
            records=((ids[i], birth[i], COUNTY, TOWNSHIPS[town[i]], 1) for i in range(n)))
        reg = dt.date(2024, 10, 8)
        await conn.copy_records_to_table(
            "enrollments", schema_name="eligibility",
            columns=["person_id", "plan_year", "status", "insured_category", "registered_on",
                     "revision", "county_code", "township_code"],
            records=((ids[i], YEAR, "stopped" if i % 97 == 0 else "registered",
                      "minor" if ages[i] < 18 else "adult", reg, 1, COUNTY,
                      TOWNSHIPS[town[i]]) for i in range(n)))
        groups = []
        cert = dt.date(2024, 3, 1)
        for code in GROUP_CODES:
            for i in np.flatnonzero(rng.random(n) < GROUP_SHARES[code]).tolist():
                groups.append((ids[i], code, cert, 1))
        await conn.copy_records_to_table(
            "person_groups", schema_name="eligibility",
            columns=["person_id", "group_code", "certified_on", "revision"], records=groups)
        await conn.execute("ANALYZE eligibility.persons; ANALYZE eligibility.enrollments; "
                           "ANALYZE eligibility.person_groups")
        print(f"loaded {n:,} persons, {n:,} enrollments, {len(groups):,} group memberships")
    finally:
        await conn.close()


async def wal_position(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(await conn.fetchval(
            "SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn"))
    finally:
        await conn.close()


async def main() -> None:
    import logging

    if os.environ.get("BENCH_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, format="%(message)s")
        for noisy in ("asyncio", "sqlalchemy", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_500_000)
    parser.add_argument("--chunk", type=int, default=250_000)
    parser.add_argument("--connections", type=int, default=2,
                        help="chunks in flight at once (1: one after the other)")
    args = parser.parse_args()
    pg = None
    server = os.environ.get("CANBAO_DATABASE_URL")
    if not server:
        pg = EmbeddedPostgres(ROOT / ".canbao" / "bench-eligibility-pg")
        server = await asyncio.to_thread(pg.start)
    try:
        url = await create_database(server, "canbao_bench_eligibility", drop_first=True)
        await asyncio.to_thread(upgrade, "eligibility", url)
        t = time.perf_counter()
        await load_population(url, args.persons)
        print(f"load (COPY, not part of the figure): {time.perf_counter() - t:.1f}s")
        settings = Settings(database_url=url, database_pool_size=2)
        engine = make_engine(settings)
        plans = PlanRegistry(PolicyCatalog.load(SEED_DIR))
        try:
            for label in ("first run, everyone new", "second run, nothing changed"):
                runner = Redeterminator(
                    engine, plans, chunk_size=args.chunk, connections=args.connections,
                    progress=lambda j: print(
                        f"    {j['processed']:>9,}/{j['total']:,} {j['percent']:5.1f}%  "
                        f"changed {j['changed']:,}", flush=True))
                job = await runner.create(COUNTY, YEAR)
                wal = await wal_position(url)
                started = time.perf_counter()
                job = await runner.run(job["id"])
                wall = time.perf_counter() - started
                wal = await wal_position(url) - wal
                print(f"{label}: {job['processed']:,} persons, {job['changed']:,} changed, "
                      f"{wall:.1f}s wall ({job['processed'] / wall:,.0f}/s): "
                      f"read {job['read_seconds']:.1f}s, compute {job['compute_seconds']:.1f}s, "
                      f"write {job['write_seconds']:.1f}s (summed over {args.connections} "
                      f"connection(s)); WAL {wal / 1e9:.2f} GB", flush=True)
        finally:
            await engine.dispose()
        print(f"machine: {os.cpu_count()} cores; {dt.date.today().isoformat()}")
    finally:
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    asyncio.run(main())
