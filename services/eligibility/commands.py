"""Operations on the eligibility data, from the command line.

    canbao redetermine --region 370481 --year 2025   (services/cli_ops.py)

Re-determines everyone enrolled under the region's plan for the year. Progress is stored after
every chunk; running the command again continues an unfinished job for the same region and year.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any

from kernels.policy import PolicyCatalog
from services.eligibility.plans.registry import PlanRegistry
from services.eligibility.redeterminations.service import CHUNK_SIZE, Redeterminator
from shared.db import make_engine, make_sessionmaker
from shared.outbox import Outbox
from shared.settings import Settings, get_settings


def _print_progress(job: dict[str, Any]) -> None:
    print(f"  job {job['id']} {job['region_code']}-{job['plan_year']}: "
          f"{job['processed']:,}/{job['total']:,} ({job['percent']}%), "
          f"{job['changed']:,} changed, {job['adjustments']:,} adjustments due, "
          f"status {job['status']}", flush=True)


async def redetermine(region: str, year: int, *, settings: Settings | None = None,
                      chunk_size: int = CHUNK_SIZE, max_chunks: int | None = None,
                      quiet: bool = False,
                      on_progress: Callable[[dict[str, Any]], None] | None = None,
                      ) -> dict[str, Any]:
    settings = settings or get_settings()
    plans = PlanRegistry(PolicyCatalog({}))
    engine = make_engine(settings, pool_size=2)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            # the registry's plans in force (the seed files, if the service never started)
            await plans.seed(session, Outbox("eligibility"), settings.policies_dir)
            await plans.refresh(session, force=True)
        runner = Redeterminator(engine, plans, chunk_size=chunk_size,
                                progress=on_progress or (None if quiet else _print_progress))
        unfinished = await runner.unfinished(region, year)
        if unfinished:
            job = unfinished[-1]
            if not quiet:
                print(f"continuing job {job['id']} after {job['processed']:,} persons")
        else:
            job = await runner.create(region, year)
            if not quiet:
                print(f"job {job['id']}: {job['total']:,} persons enrolled under "
                      f"{region}-{year} (plan {job['policy_version'][:16]})")
        return await runner.run(job["id"], max_chunks=max_chunks)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.eligibility.commands",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    red = sub.add_parser("redetermine", help="re-determine a region's enrolled population")
    red.add_argument("--region", required=True)
    red.add_argument("--year", type=int, required=True)
    red.add_argument("--chunk-size", type=int, default=100_000)
    args = parser.parse_args(argv)
    job = asyncio.run(redetermine(args.region, args.year, chunk_size=args.chunk_size))
    print(f"job {job['id']} {job['status']}: {job['processed']:,} persons, "
          f"{job['changed']:,} changed; read {job['read_seconds']:.1f}s, compute "
          f"{job['compute_seconds']:.1f}s, write {job['write_seconds']:.1f}s")
    return 0 if job["status"] == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
