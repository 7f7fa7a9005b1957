"""Registration bulk figures, one command:

    .venv/bin/python bench/registration_import.py [--rows 1500000] [--list-rows 100000]

1. import N synthetic residents from CSV (import-residents: validate, hash+encrypt, COPY into
   staging, INSERT ... SELECT, person events into the outbox), with the progress display, next
   to the same run's raw COPY of the same file into a plain table (the ceiling);
2. apply a certified list of M rows (civil affairs) with its membership events.

Uses CANBAO_TEST_DATABASE_URL / CANBAO_DATABASE_URL when set, otherwise an embedded
PostgreSQL under .canbao/bench-pg; creates its own database each run."""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.infra import EmbeddedPostgres, create_database  # noqa: E402
from shared.idnumber import check_character  # noqa: E402
from shared.migrations import upgrade  # noqa: E402
from shared.settings import Settings  # noqa: E402

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋"
            "蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红娥玲芬建国志强海燕春梅"


def generate(path: Path, rows: int, townships: list[str], seed: int = 7) -> list[tuple[str, str]]:
    """Write the residents CSV; return (id_number, name) of every row."""
    rng = random.Random(seed)
    people: list[tuple[str, str]] = []
    seen: set[str] = set()
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["姓名", "身份证号", "手机号", "户号", "与户主关系", "乡镇代码", "村代码"])
        household = 0
        member = 0
        township = townships[0]
        village = township[:9] + "201"
        while len(people) < rows:
            year = rng.randint(1940, 2023)
            month = rng.randint(1, 12)
            day = rng.randint(1, 28)
            first17 = f"370481{year}{month:02d}{day:02d}{rng.randint(0, 999):03d}"
            if first17 in seen:
                continue
            seen.add(first17)
            id_number = first17 + check_character(first17)
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
            if member == 0:
                household += 1
                township = townships[household % len(townships)]
                village = township[:9] + f"{200 + household % 50:03d}"
                member = rng.randint(1, 5)
                relation = "户主"
            else:
                relation = rng.choice(["配偶", "子", "女", "父亲", "母亲"])
            member -= 1
            phone = f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}" if rng.random() < 0.6 else ""
            w.writerow([name, id_number, phone, f"T{household:08d}", relation, township, village])
            people.append((id_number, name))
    del seen
    return people


async def raw_copy(dsn: str, path: Path) -> float:
    import asyncpg

    pg = await asyncpg.connect(dsn, command_timeout=None)
    try:
        await pg.execute("CREATE TABLE bench_raw (name text, id_number text, phone text, "
                         "household text, relation text, township text, village text)")
        t0 = time.perf_counter()
        with path.open("rb") as f:
            await pg.copy_to_table("bench_raw", source=f, format="csv", header=True)
        return time.perf_counter() - t0
    finally:
        await pg.close()


async def import_file(settings: Settings, dsn: str, path: Path) -> object:
    import asyncpg

    from kernels.regions import load_regions
    from services.registration.bulk.residents import Progress, import_residents
    from shared.outbox import Outbox
    from shared.pii import vault_for

    pg = await asyncpg.connect(dsn, command_timeout=None)
    progress = Progress(path.stat().st_size)
    try:
        return await import_residents(pg, path, vault=vault_for(settings),
                                      outbox=Outbox("registration"), regions=load_regions(),
                                      county_code="370481", progress=progress)
    finally:
        progress.done()
        await pg.close()


async def apply_list(settings: Settings, dsn: str, people: list[tuple[str, str]], rows: int,
                     tmp: Path) -> tuple[float, int, str]:
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from services.registration.lists.service import ListService
    from shared.outbox import Outbox
    from shared.pii import vault_for

    rng = random.Random(11)
    chosen = rng.sample(people, rows)
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
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--list-rows", type=int, default=100_000)
    args = parser.parse_args()
    server = os.environ.get("CANBAO_TEST_DATABASE_URL") or os.environ.get("CANBAO_DATABASE_URL")
    pg_server = None
    if not server:
        pg_server = EmbeddedPostgres(ROOT / ".canbao" / "bench-pg")
        server = await asyncio.to_thread(pg_server.start)
    try:
        url = await create_database(server, f"canbao_bench_{uuid.uuid4().hex[:8]}")
        await asyncio.to_thread(upgrade, "registration", url)
        settings = Settings(environment="test", database_url=url)
        dsn = settings.async_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        from kernels.regions import load_regions

        townships = [r.code for r in load_regions().children("370481")]
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            path = tmp / "residents.csv"
            t0 = time.perf_counter()
            people = generate(path, args.rows, townships)
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
            elapsed, events, status = await apply_list(settings, dsn, people, args.list_rows, tmp)
            print(f"certified list: {args.list_rows:,} rows {status} in {elapsed:.1f}s with "
                  f"{events:,} membership events in the outbox")
    finally:
        if pg_server is not None:
            pg_server.stop()


if __name__ == "__main__":
    asyncio.run(main())
