"""Registration bulk figures, one command:

    .venv/bin/python bench/registration_import.py [--rows 1500000] [--list-rows 100000]

1. import N synthetic residents from CSV (import-residents: validate, hash+encrypt, COPY into
   staging, INSERT ... SELECT, person events into the outbox), with the progress display, next
   to the same run's raw COPY of the same file into a plain table (the ceiling);
2. apply a certified list of M rows (civil affairs) with its membership events.

Uses CANBAO_TEST_DATABASE_URL / CANBAO_DATABASE_URL when set, otherwise an embedded
PostgreSQL under .canbao/bench-pg; makes its own database again each run."""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import province  # noqa: E402

from devtools.infra import bench_database  # noqa: E402
from shared.settings import Settings  # noqa: E402


async def raw_copy(dsn: str, path: Path) -> float:
    """Seconds to COPY the CSV as it is into a plain table (bench_raw, created if missing)."""
    import asyncpg

    pg = await asyncpg.connect(dsn, command_timeout=None)
    try:
        await pg.execute("CREATE TABLE IF NOT EXISTS bench_raw (name text, id_number text, "
                         "phone text, household text, relation text, township text, "
                         "village text)")
        t0 = time.perf_counter()
        with path.open("rb") as f:
            await pg.copy_to_table("bench_raw", source=f, format="csv", header=True)
        return time.perf_counter() - t0
    finally:
        await pg.close()


async def import_file(settings: Settings, dsn: str, path: Path, county_code: str = "370481",
                      show_progress: bool = True) -> object:
    import asyncpg

    from kernels.regions import load_regions
    from services.registration.bulk.residents import Progress, import_residents
    from shared.outbox import Outbox
    from shared.pii import vault_for

    pg = await asyncpg.connect(dsn, command_timeout=None)
    progress = Progress(path.stat().st_size) if show_progress else None
    try:
        return await import_residents(pg, path, vault=vault_for(settings),
                                      outbox=Outbox("registration"), regions=load_regions(),
                                      county_code=county_code, progress=progress)
    finally:
        if progress is not None:
            progress.done()
        await pg.close()


def sample_people(residents: Path, rows: int, total: int, seed: int = 11) -> list[tuple[str, str]]:
    """About `rows` (id_number, name) pairs drawn evenly from the residents CSV."""
    rng = random.Random(seed)
    share = min(1.0, rows * 1.05 / total)
    out: list[tuple[str, str]] = []
    with residents.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            if rng.random() < share:
                out.append((row[1], row[0]))
    return out[:rows]


async def apply_list(settings: Settings, dsn: str, chosen: list[tuple[str, str]],
                     tmp: Path) -> tuple[float, int, str]:
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from services.registration.lists.service import ListService
    from shared.outbox import Outbox
    from shared.pii import vault_for

    groups = ["低保对象", "特困人员", "低保边缘家庭成员", "孤儿"]
    path = tmp / "civil-affairs-list.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["序号", "姓名", "身份证号", "类别", "认定日期"])
        for i, (id_number, name) in enumerate(chosen, 1):
            w.writerow([i, name, id_number, groups[i % len(groups)], "2024-03-01"])
    content = path.read_bytes()
    engine = create_async_engine(settings.async_database_url,
                                 connect_args={"command_timeout": None})
    try:
        t0 = time.perf_counter()
        async with AsyncSession(engine) as session, session.begin():
            result = await ListService(session, Outbox("registration"),
                                       vault_for(settings)).upload(
                "civil_affairs", 2025, "preliminary", content, path.name)
        elapsed = time.perf_counter() - t0
        async with engine.connect() as conn:
            from sqlalchemy import text

            events = (await conn.execute(text(
                "SELECT count(*) FROM registration.outbox WHERE event_type = "
                "'registration.group_membership_added.v1'"))).scalar_one()
    finally:
        await engine.dispose()
    assert not result.errors, result.errors[:3]
    return elapsed, int(events), result.status


async def main() -> None:
    import logging

    if os.environ.get("BENCH_DEBUG"):  # each batch's statements timed
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        logging.getLogger("services.registration.bulk").setLevel(logging.DEBUG)
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--list-rows", type=int, default=100_000)
    args = parser.parse_args()
    async with bench_database("canbao_bench_registration_import", ["registration"],
                              ROOT / ".canbao" / "bench-pg") as url:
        settings = Settings(environment="test", database_url=url)
        dsn = settings.async_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            path = tmp / "residents.csv"
            t0 = time.perf_counter()
            province.write_residents_csv(
                path, province.population(province.one_county("370481", args.rows)))
            print(f"generated {args.rows:,} residents ({path.stat().st_size / 1e6:,.0f} MB) "
                  f"in {time.perf_counter() - t0:.1f}s")
            ceiling = await raw_copy(dsn, path)
            print(f"raw COPY of the same file into a plain table: {ceiling:.1f}s "
                  f"({args.rows / ceiling:,.0f} rows/s)  [ceiling]")
            result = await import_file(settings, dsn, path)
            assert result.ok, result.errors[:3]  # type: ignore[attr-defined]
            r = result  # type: ignore[assignment]
            print(f"import-residents: {r.imported:,} persons, {r.households:,} households, "
                  f"{r.events:,} events in {r.seconds:.1f}s ({r.rows / r.seconds:,.0f} rows/s), "
                  f"{r.seconds / ceiling:.1f}x the raw COPY; phases: "
                  + ", ".join(f"{k} {v:.1f}s" for k, v in r.timings.items()))
            chosen = sample_people(path, args.list_rows, args.rows)
            elapsed, events, status = await apply_list(settings, dsn, chosen, tmp)
            print(f"certified list: {args.list_rows:,} rows {status} in {elapsed:.1f}s with "
                  f"{events:,} membership events in the outbox")


if __name__ == "__main__":
    asyncio.run(main())
