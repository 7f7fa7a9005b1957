"""Benchmark: re-determine a whole county (1.5 million enrolled persons) and persist it.

    python bench/eligibility_redetermine.py [--persons 1500000] [--chunk N] [--connections N]

The chunk size and the chunks in flight default to the service's own (CHUNK_SIZE, CONNECTIONS).

Makes its own database again (on CANBAO_TEST_DATABASE_URL's or CANBAO_DATABASE_URL's server, or
an embedded PostgreSQL 18 under .canbao/bench-eligibility-pg), migrates the eligibility schema,
loads synthetic persons, enrollments and group memberships (bench/province.py's shares) with
COPY, then runs the redetermination job for Tengzhou 2025 twice: first with no determinations
(everyone new: determinations, current rows and 1.5 million outbox events written), then again
with nothing changed (only reads, compute and the comparison). Prints the wall time and the time
split: read, compute, write, each summed over the chunks (with --connections 2, two chunks are
in flight at once, so the parts overlap and add up to more than the wall time), and the WAL
written.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import province  # noqa: E402

from devtools.infra import bench_database  # noqa: E402
from kernels.policy import PolicyCatalog  # noqa: E402
from services.eligibility.plans.registry import SEED_DIR, PlanRegistry  # noqa: E402
from services.eligibility.redeterminations.service import (  # noqa: E402
    CHUNK_SIZE,
    CONNECTIONS,
    Redeterminator,
)
from shared.db import make_engine  # noqa: E402
from shared.settings import Settings  # noqa: E402

COUNTY, YEAR = "370481", 2025


async def load_population(url: str, counties: list[province.County]) -> tuple[int, int]:
    """COPY the people of `counties` (bench/province.py) into the eligibility projections:
    persons, enrollments (every 97th stopped) and group memberships; returns (persons,
    memberships)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    persons = groups = 0
    try:
        for c in province.population(counties):
            ids = c.person_uuid_text()
            birth = province.date_text(c.birth)
            county = c.county.code
            await province.copy_rows(
                conn, "eligibility.persons",
                ["person_id", "birth_date", "county_code", "township_code", "revision"],
                province.copy_text(ids, birth, county, c.township, "1"))
            status = np.where(c.person_index % 97 == 0, "stopped", "registered")
            category = np.where(c.age(YEAR) < 18, "minor", "adult")
            await province.copy_rows(
                conn, "eligibility.enrollments",
                ["person_id", "plan_year", "status", "insured_category", "registered_on",
                 "revision", "county_code", "township_code"],
                province.copy_text(ids, str(YEAR), status, category, "2024-10-08", "1", county,
                                   c.township))
            for code, rows in c.groups.items():
                if len(rows):
                    await province.copy_rows(
                        conn, "eligibility.person_groups",
                        ["person_id", "group_code", "certified_on", "revision"],
                        province.copy_text(ids[rows], code, "2024-03-01", "1"))
                    groups += len(rows)
            persons += c.n
        await conn.execute("ANALYZE eligibility.persons; ANALYZE eligibility.enrollments; "
                           "ANALYZE eligibility.person_groups")
        print(f"loaded {persons:,} persons, {persons:,} enrollments, {groups:,} group "
              "memberships")
        return persons, groups
    finally:
        await conn.close()


def plan_regions(catalog: PolicyCatalog, counties: list[province.County]) -> tuple[
        PolicyCatalog, list[str]]:
    """The catalog with a plan for every county (counties without one of their own, their
    city's or their province's get Tengzhou's 2025 plan as their province's), and the plan
    regions to redetermine: one job per plan region covers all of its counties."""
    base = catalog.get(COUNTY, YEAR)
    regions: list[str] = []
    for county in counties:
        policy = catalog.find(county.code, YEAR)
        if policy is None:
            catalog = catalog.with_policy(dataclasses.replace(base, model=base.model.model_copy(
                update={"region_code": county.code[:2] + "0000"})))
            policy = catalog.find(county.code, YEAR)
            assert policy is not None
        if policy.region_code not in regions:
            regions.append(policy.region_code)
    return catalog, regions


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
    parser.add_argument("--chunk", type=int, default=CHUNK_SIZE)
    parser.add_argument("--connections", type=int, default=CONNECTIONS,
                        help="chunks in flight at once (1: one after the other)")
    args = parser.parse_args()
    async with bench_database("canbao_bench_eligibility", ["eligibility"],
                              ROOT / ".canbao" / "bench-eligibility-pg") as url:
        t = time.perf_counter()
        await load_population(url, province.one_county(COUNTY, args.persons))
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


if __name__ == "__main__":
    asyncio.run(main())
