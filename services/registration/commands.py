"""Registration's operator commands, run as `canbao` commands (services/cli_ops.py):

    canbao rollover --from 2024 --to 2025 [--county 370481]
    canbao import targets FILE.csv --year 2021 [--county 370481]
    canbao import residents FILE.csv [--county 370481]

(`python -m services.registration.commands ...` still runs them.)

They use CANBAO_DATABASE_URL (and CANBAO_PII_KEY) like the services do."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.registration.enrollments.service import EnrollmentService
from shared.outbox import Outbox
from shared.pii import vault_for
from shared.settings import Settings, get_settings, to_plain_url

SERVICE = "registration"


def _engine(settings: Settings) -> AsyncEngine:
    # bulk statements run longer than the services' 60-second command timeout
    return create_async_engine(settings.async_database_url, pool_size=2,
                               connect_args={"command_timeout": None})


def asyncpg_dsn(settings: Settings) -> str:
    return to_plain_url(settings.database_url)


async def rollover(settings: Settings, from_year: int, to_year: int, county: str | None) -> int:
    engine = _engine(settings)
    try:
        from sqlalchemy.ext.asyncio import AsyncSession

        async with AsyncSession(engine) as session, session.begin():
            return await EnrollmentService(session, Outbox(SERVICE)).rollover(
                from_year, to_year, county)
    finally:
        await engine.dispose()


async def load_targets(settings: Settings, year: int, file: Path, county: str | None) -> tuple[int, int]:
    from services.registration.targets.service import parse_targets, set_targets
    from services.registration.uploads import write_error_report_csv

    parsed = parse_targets(file.read_bytes(), county, file.name)
    if parsed.errors:
        report = file.with_suffix(".errors.csv")
        report.write_bytes(write_error_report_csv(parsed.errors))
        raise SystemExit(f"{file}: {len(parsed.errors)} error(s), nothing loaded; "
                         f"first: {parsed.errors[0].message}; report: {report}")
    engine = _engine(settings)
    try:
        async with engine.begin() as conn:
            await set_targets(conn, Outbox(SERVICE), year,
                              [(t.township_code, t.target) for t in parsed.targets])
    finally:
        await engine.dispose()
    return len(parsed.targets), parsed.total


async def import_residents_command(settings: Settings, file: Path, county: str | None) -> int:
    import asyncpg

    from kernels.regions import load_regions
    from services.registration.bulk.residents import import_residents
    from services.registration.uploads import write_error_report_csv
    from shared.progress import task_progress

    pg = await asyncpg.connect(asyncpg_dsn(settings), command_timeout=None)
    try:
        with task_progress(f"读取 reading {file.name}", total=file.stat().st_size,
                           unit="B") as shown:
            def progress(rows: int, position: int, stage: str = "读取 reading",
                         force: bool = False) -> None:
                shown.update(position, stage=f"{stage} {file.name}: {rows:,} rows")

            result = await import_residents(pg, file, vault=vault_for(settings),
                                            outbox=Outbox(SERVICE), regions=load_regions(),
                                            county_code=county, progress=progress)
    finally:
        await pg.close()
    if not result.ok:
        report = file.with_suffix(".errors.csv")
        report.write_bytes(write_error_report_csv(result.errors))
        print(f"{file}: {len(result.errors)} error(s) in {result.rows:,} rows; nothing imported "
              f"(the import is all or nothing). Error report: {report}", file=sys.stderr)
        return 1
    print(f"imported {result.imported:,} of {result.rows:,} rows "
          f"({result.already_registered:,} already registered, {result.households:,} new "
          f"households, {result.events:,} events) in {result.seconds:.1f}s "
          f"({result.rows / max(result.seconds, 1e-9):,.0f} rows/s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.registration.commands")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("rollover", help="enroll last year's enrollees in the new plan year")
    r.add_argument("--from", dest="from_year", type=int, required=True)
    r.add_argument("--to", dest="to_year", type=int, required=True)
    r.add_argument("--county", default=None)
    t = sub.add_parser("load-targets", help="load a township targets table")
    t.add_argument("--year", type=int, required=True)
    t.add_argument("--file", type=Path, required=True)
    t.add_argument("--county", default=None)
    i = sub.add_parser("import-residents", help="bulk import residents from CSV/XLSX")
    i.add_argument("file", type=Path)
    i.add_argument("--county", default=None)
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "rollover":
        n = asyncio.run(rollover(settings, args.from_year, args.to_year, args.county))
        print(f"rolled {n:,} enrollments from {args.from_year} into {args.to_year}")
        return 0
    if args.command == "load-targets":
        count, total = asyncio.run(load_targets(settings, args.year, args.file, args.county))
        print(f"loaded {count} township targets for {args.year}, total {total:,}")
        return 0
    return asyncio.run(import_residents_command(settings, args.file, args.county))


if __name__ == "__main__":
    raise SystemExit(main())
