"""Growth benchmark (issue #18): how per-person costs and query latencies grow with the
population in the tables, for one N per run.

    .venv/bin/python bench/growth.py --persons 1500000 [--counties 12] [--slice 500000]

One embedded PostgreSQL and tansu broker (devtools/testing/infra.py), every schema in one
database as on a one-server deployment; the population is bench/province.py's (N people over
--counties real counties of Shandong). In order, each with its baseline of the same run:
  1. registration: import-residents of the first N - slice people (county files), then of the
     last `slice` people into tables already holding N - slice: rows/s and microseconds per
     person of the slice, next to a raw COPY of the same slice files into a plain table;
  2. eligibility: COPY persons/enrollments/memberships (the baseline), then redetermine the
     whole population with persistence (one job per plan region), microseconds per person;
  3. reporting: COPY the projections, then county progress, province progress (by county) and
     a village's publicity list p50/p99 through the API (in-process ASGI), next to SELECT 1
     and count(*) of the county's and of the province's person-years;
  4. payments: N people with dues and open orders, then POST /v1/bills/lookup p50/p99 next to
     SELECT 1;
  5. rows and bytes per person of every schema (pg_total_relation_size).
Each schema is dropped once its figures and sizes are taken (disk: at 10 M registration and
eligibility hold about 19 and 36 GB), and the free disk is printed after every phase. A phase
that fails prints its traceback (on stdout, with the figures) and the run goes on with the
next one (each loads its own data); the run then exits 1 and names the failed phases.
PostgreSQL runs with PG_SETTINGS (docs/SCALING.md, county size), printed at the start;
--pg-defaults for PostgreSQL's defaults (what the tests use).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

os.environ.setdefault("CANBAO_AUTH_ENABLED", "false")
os.environ.setdefault("CANBAO_RATE_LIMITS", '{"/v1/bills": {"rate": 1000000, "burst": 1000000}}')

import asyncpg  # noqa: E402
import eligibility_redetermine as elig  # noqa: E402
import payments_webhooks as pay  # noqa: E402
import province  # noqa: E402
import registration_import as reg  # noqa: E402
import reporting_progress as rep  # noqa: E402

from devtools.infra import _asyncpg_dsn  # noqa: E402
from devtools.testing.apps import running_app  # noqa: E402
from devtools.testing.infra import start_test_infra  # noqa: E402

YEAR = 2025

# docs/SCALING.md "PostgreSQL settings", county column (shared_buffers sized to this machine's
# memory); tests keep PostgreSQL's defaults. --pg-defaults runs on those instead. Not
# wal_compression = zstd: the embedded server's build has neither zstd nor lz4.
PG_SETTINGS = {
    "shared_buffers": "4GB",
    "effective_cache_size": "12GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
    "work_mem": "16MB",
    "maintenance_work_mem": "1GB",
}


def out(line: str = "") -> None:
    print(line, flush=True)


async def registration(settings, dsn: str, counties: list[province.County], slice_rows: int,  # type: ignore[no-untyped-def]
                       tmp: Path) -> None:
    total = sum(c.persons for c in counties)
    cut = total - slice_rows
    files: list[tuple[str, Path, Path, int, int]] = []
    t0 = time.perf_counter()
    for c in counties:
        before, after = tmp / f"pre-{c.code}.csv", tmp / f"slice-{c.code}.csv"
        n_before = n_after = 0
        with before.open("w", encoding="utf-8") as fb, after.open("w", encoding="utf-8") as fa:
            fb.write(province.RESIDENTS_HEADER)
            fa.write(province.RESIDENTS_HEADER)
            for a, b in list_split(province.population(counties, only=c.code), cut):
                if a is not None:
                    fb.write(province.residents_csv(a))
                    n_before += a.n
                if b is not None:
                    fa.write(province.residents_csv(b))
                    n_after += b.n
        files.append((c.code, before, after, n_before, n_after))
    out(f"residents CSVs written in {time.perf_counter() - t0:.0f}s")
    t0 = time.perf_counter()
    for code, before, _, n, _ in files:
        if n:
            r = await reg.import_file(settings, dsn, before, code, show_progress=False)
            assert r.ok, r.errors[:3]  # type: ignore[attr-defined]
            out(f"  prefill {code}: {n:,} in {r.seconds:.1f}s ({n / r.seconds:,.0f}/s)")  # type: ignore[attr-defined]
    out(f"prefill: {cut:,} people imported in {time.perf_counter() - t0:.0f}s")
    seconds = ceiling = 0.0
    for code, _, after, _, n in files:
        if n:
            r = await reg.import_file(settings, dsn, after, code, show_progress=False)
            assert r.ok, r.errors[:3]  # type: ignore[attr-defined]
            seconds += r.seconds  # type: ignore[attr-defined]
            ceiling += await reg.raw_copy(dsn, after)
    out(f"RESULT registration import of the last {slice_rows:,} with {cut:,} in the tables: "
        f"{seconds:.1f}s, {slice_rows / seconds:,.0f} persons/s, "
        f"{seconds / slice_rows * 1e6:.1f} us/person; raw COPY of the same files "
        f"{ceiling:.2f}s ({ceiling / slice_rows * 1e6:.2f} us/row); ratio {seconds / ceiling:.0f}x")


def list_split(chunks, cut: int):  # type: ignore[no-untyped-def]
    """(part before global index `cut`, part from it) of each chunk, lazily; None when empty."""
    for c in chunks:
        k = max(0, min(c.n, cut - c.start))
        yield (_part(c, 0, k), _part(c, k, c.n))


def _part(c: province.Chunk, a: int, b: int) -> province.Chunk | None:
    if a >= b:
        return None
    fields = ("person_index", "birth", "township", "village", "household_no", "head",
              "relation", "id_number", "name", "phone")
    return province.Chunk(c.county, c.start + a, *(getattr(c, f)[a:b] for f in fields),
                          groups={})


async def eligibility(url: str, counties: list[province.County]) -> None:
    from kernels.policy import PolicyCatalog
    from services.eligibility.plans.registry import SEED_DIR, PlanRegistry
    from services.eligibility.redeterminations.service import Redeterminator
    from shared.db import make_engine
    from shared.settings import Settings

    total = sum(c.persons for c in counties)
    t0 = time.perf_counter()
    await elig.load_population(url, counties)
    load = time.perf_counter() - t0
    out(f"RESULT eligibility COPY load (baseline): {load:.1f}s, {load / total * 1e6:.1f} us/person")
    catalog, regions = elig.plan_regions(PolicyCatalog.load(SEED_DIR), counties)
    engine = make_engine(Settings(database_url=url, database_pool_size=2))
    try:
        wall = 0.0
        wal = await elig.wal_position(url)
        for region in regions:
            runner = Redeterminator(engine, PlanRegistry(catalog), chunk_size=250_000,
                                    connections=2)
            job = await runner.create(region, YEAR)
            started = time.perf_counter()
            job = await runner.run(job["id"])
            took = time.perf_counter() - started
            wall += took
            out(f"  job {region}: {job['processed']:,} persons, {job['changed']:,} changed, "
                f"{took:.1f}s: read {job['read_seconds']:.1f}s, compute "
                f"{job['compute_seconds']:.1f}s, write {job['write_seconds']:.1f}s")
        wal = await elig.wal_position(url) - wal
    finally:
        await engine.dispose()
    out(f"RESULT redetermination with persistence, everyone new: {wall:.1f}s, "
        f"{total / wall:,.0f} persons/s, {wall / total * 1e6:.1f} us/person; "
        f"{wall / load:.2f}x the COPY load; WAL {wal / 1e9:.2f} GB")


async def reporting(settings, conn: asyncpg.Connection, counties: list[province.County]) -> None:  # type: ignore[no-untyped-def]
    from services.reporting.app import create_app

    t0 = time.perf_counter()
    unpaid = await rep.load(conn, counties)
    out(f"reporting projections COPY + counters: {time.perf_counter() - t0:.0f}s")
    county = "370481"
    prov = counties[0].code[:2] + "0000"
    out(rep.fmt("baseline SELECT 1", await rep.timed(lambda: conn.fetchval("SELECT 1"), 200)))
    out(rep.fmt("baseline count(*) county person-years", await rep.timed(
        lambda: conn.fetchval("SELECT count(*) FROM reporting.person_years WHERE "
                              "county_code = $1 AND plan_year = $2", county, YEAR), 5)))
    out(rep.fmt("baseline count(*) province person-years", await rep.timed(
        lambda: conn.fetchval("SELECT count(*) FROM reporting.person_years WHERE "
                              "plan_year = $1", YEAR), 3)))
    del unpaid
    village = await conn.fetchval(
        "SELECT village_code FROM reporting.person_years WHERE county_code = $1 LIMIT 1", county)
    async with rep.running_timed(create_app(settings)) as (client, server_ms):
        async def get(url: str) -> None:
            r = await client.get(url)
            assert r.status_code == 200, r.text

        for name, url, n in (
                ("GET /v1/progress county (townships)",
                 f"/v1/progress?county_code={county}&plan_year={YEAR}", 1000),
                ("GET /v1/progress province (cities)",
                 f"/v1/progress?county_code={prov}&plan_year={YEAR}", 500),
                ("GET /v1/progress province (counties)",
                 f"/v1/progress?county_code={prov}&plan_year={YEAR}&level=county", 500),
                ("GET /v1/publicity-lists village",
                 f"/v1/publicity-lists?village_code={village}&plan_year={YEAR}", 50)):
            for _ in range(10):  # warm-up
                await get(url)
            server_ms.clear()
            out(rep.fmt(name, await rep.timed(lambda u=url: get(u), n)))
            out(rep.fmt("  the same, time inside the service", server_ms))
        size = len((await client.get(
            f"/v1/publicity-lists?village_code={village}&plan_year={YEAR}")).json()["rows"])
        out(f"(the village's publicity list has {size} rows)")


async def payments(settings, dsn: str, conn: asyncpg.Connection, total: int) -> None:  # type: ignore[no-untyped-def]
    from services.payments.app import create_app

    t0 = time.perf_counter()
    ids = await pay.seed(dsn, total)
    await conn.execute("ANALYZE payments.persons; ANALYZE payments.dues; ANALYZE payments.orders")
    out(f"payments: {total:,} people with dues and open orders in {time.perf_counter() - t0:.0f}s")
    async with running_app(create_app(settings)) as client:
        i = 0

        async def lookup() -> None:
            nonlocal i
            i += 1
            r = await client.post("/v1/bills/lookup", content=pay.bill_body(ids[i % len(ids)]),
                                  headers={"Content-Type": "application/json"})
            assert r.status_code == 200, r.text

        await lookup()
        out(rep.fmt("baseline SELECT 1", await rep.timed(lambda: conn.fetchval("SELECT 1"), 200)))
        out(rep.fmt("POST /v1/bills/lookup", await rep.timed(lookup, 500)))


async def sizes(conn: asyncpg.Connection, total: int, schemas: list[str]) -> None:
    for schema in schemas:
        for (table,) in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1", schema):
            await conn.execute(f'ANALYZE "{schema}"."{table}"')
    rows = await conn.fetch(
        """SELECT n.nspname AS schema, c.relname AS name, c.reltuples::bigint AS rows,
                  pg_total_relation_size(c.oid) AS bytes
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1) ORDER BY 1, 4 DESC""", schemas)
    for schema in schemas:
        mine = [r for r in rows if r["schema"] == schema]
        b = sum(r["bytes"] for r in mine)
        out(f"SIZE {schema}: {b / 1e9:.2f} GB, {b / total:,.0f} bytes/person; "
            + ", ".join(f"{r['name']} {max(r['rows'], 0) / total:.2f} rows "
                        f"{r['bytes'] / total:,.0f} B" for r in mine if r["bytes"] > 1e6))


async def drop(conn: asyncpg.Connection, schema: str) -> None:
    """Drop the schema once its figures are taken (no later phase reads it): its files go
    at once, where TRUNCATE would leave them until the next CHECKPOINT."""
    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.execute("CHECKPOINT")


def disk(after: str) -> None:
    free = shutil.disk_usage(ROOT / ".canbao").free
    out(f"DISK after {after}: {free / 1e9:.1f} GB free")


async def phase(name: str, body, cleanup) -> bool:  # type: ignore[no-untyped-def]
    """Run one phase; a failure prints its traceback and the run goes on with the next
    phase (each loads its own data). The cleanup runs either way. True when it passed."""
    ok = True
    try:
        await body()
    except Exception:  # noqa: BLE001 - reported, the next phases still measure
        ok = False
        out(f"FAILED {name}:")
        out(traceback.format_exc().rstrip())
    try:
        await cleanup()
    except Exception:  # noqa: BLE001
        out(f"FAILED cleanup after {name}:")
        out(traceback.format_exc().rstrip())
    disk(name)
    return ok


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_500_000)
    parser.add_argument("--counties", type=int, default=12)
    parser.add_argument("--slice", type=int, default=500_000)
    parser.add_argument("--pg-defaults", action="store_true",
                        help="PostgreSQL's default settings instead of PG_SETTINGS")
    parser.add_argument("--skip", default="", help="comma-separated: registration,eligibility,"
                        "reporting,payments")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    counties = province.pick_counties(args.persons, args.counties)
    out(f"== growth N={args.persons:,}; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), shared")
    out("counties: " + province.describe(counties))
    pg_settings = {} if args.pg_defaults else PG_SETTINGS
    (ROOT / ".canbao").mkdir(exist_ok=True)
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="canbao-growth-", dir=ROOT / ".canbao") as d:
        tmp = Path(d)
        infra = await start_test_infra(tmp, pg_settings=pg_settings)
        try:
            settings = infra.settings()
            dsn = _asyncpg_dsn(infra.database_url)
            conn = await asyncpg.connect(dsn, command_timeout=None)
            shown = await conn.fetch(
                "SELECT name, current_setting(name) AS value FROM pg_settings WHERE name = ANY($1)"
                " ORDER BY name", [*PG_SETTINGS, "wal_compression"])
            out("postgresql: " + ("defaults; " if not pg_settings else "")
                + ", ".join(f"{r['name']}={r['value']}" for r in shown))
            disk("start")

            async def reg_body() -> None:
                await registration(settings, dsn, counties, args.slice, tmp)
                await sizes(conn, args.persons, ["registration"])

            async def reg_cleanup() -> None:
                await conn.execute("DROP TABLE IF EXISTS bench_raw")
                await drop(conn, "registration")
                for f in tmp.glob("*.csv"):
                    f.unlink()

            async def elig_body() -> None:
                await eligibility(infra.database_url, counties)
                await sizes(conn, args.persons, ["eligibility"])

            async def rep_body() -> None:
                await reporting(settings, conn, counties)
                await sizes(conn, args.persons, ["reporting"])

            async def pay_body() -> None:
                await payments(settings, dsn, conn, args.persons)
                await sizes(conn, args.persons, ["payments"])

            phases = (("registration", reg_body, reg_cleanup),
                      ("eligibility", elig_body, lambda: drop(conn, "eligibility")),
                      ("reporting", rep_body, lambda: drop(conn, "reporting")),
                      ("payments", pay_body, lambda: drop(conn, "payments")))
            for name, body, cleanup in phases:
                if name not in skip and not await phase(name, body, cleanup):
                    failed.append(name)
            await conn.close()
        finally:
            infra.stop()
    out(f"== end {dt.datetime.now(dt.UTC):%H:%M} UTC" + (f"; FAILED: {', '.join(failed)}"
                                                       if failed else ""))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
