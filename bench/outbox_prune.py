"""How fast the relays' retention deletes old sent outbox rows, and how long each batch holds
its transaction.

    python bench/outbox_prune.py [--rows 1000000] [--batch 5000]

Fills reporting's outbox with `--rows` events of ~1 KB (a determination event's size) sent 20
days ago, then lets a relay's `prune_once` (retention 14 days) delete them batch after batch, as
a running relay does when a backlog of old rows is due: rows per second and the time of each
batch. Baseline in the same run: the same number of rows, made the same way in a second table of
the same shape, deleted by one plain `DELETE` (the database's own delete rate, with none of the
batching that keeps each transaction short).

Runs against CANBAO_TEST_DATABASE_URL / CANBAO_DATABASE_URL when set, otherwise an embedded
PostgreSQL; makes its own database again each run. No broker: pruning does not publish.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from devtools.infra import bench_database  # noqa: E402
from shared.db import make_engine  # noqa: E402
from shared.outbox import OutboxRelay  # noqa: E402
from shared.settings import Settings  # noqa: E402

SCHEMA = "reporting"
FILL = """INSERT INTO {table} (event_id, topic, partition_key, shard, event_type, source,
        subject, data, created_at, sent_at)
    SELECT gen_random_uuid(), 'eligibility.determination.v1', g::text, (g % 16)::int2,
           'eligibility.determination_changed.v1', 'canbao/eligibility', g::text,
           jsonb_build_object('i', g, 'pad', repeat('x', 700)),
           now() - interval '20 days', now() - interval '20 days'
    FROM generate_series(1, :n) g"""


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    async with bench_database("canbao_bench_outbox_prune", [SCHEMA],
                              ROOT / ".canbao" / "bench-prune-pg") as url:
        engine = make_engine(Settings(database_url=url))
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f"CREATE TABLE public.baseline (LIKE {SCHEMA}.outbox "
                                        "INCLUDING ALL)"))
                for table in (f"{SCHEMA}.outbox", "public.baseline"):
                    await conn.execute(text(FILL.format(table=table)), {"n": args.rows})
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text(f"VACUUM ANALYZE {SCHEMA}.outbox, public.baseline"))
            print(f"{args.rows:,} sent rows 20 days old in each table")

            started = time.perf_counter()
            async with engine.begin() as conn:
                gone = (await conn.execute(text("DELETE FROM public.baseline"))).rowcount
            plain = time.perf_counter() - started
            print(f"baseline: one plain DELETE of {gone:,} rows: {plain:.1f}s "
                  f"({gone / plain:,.0f} rows/s), one transaction")

            relay = OutboxRelay(engine, SCHEMA, producer=None,  # type: ignore[arg-type]
                                retention=14 * 86400, prune_batch=args.batch)
            async with engine.begin() as conn:
                relay.shards = await relay.claim_shards(conn)
            batches: list[float] = []
            started = time.perf_counter()
            while True:
                t = time.perf_counter()
                n = await relay.prune_once()
                batches.append(time.perf_counter() - t)
                if n < args.batch:
                    break
            total = time.perf_counter() - started
            ms = sorted(b * 1000 for b in batches)
            print(f"relay retention: {relay.pruned:,} rows in {total:.1f}s "
                  f"({relay.pruned / total:,.0f} rows/s, {total / plain:.2f}x the plain DELETE) "
                  f"in {len(batches)} transactions of {args.batch:,}: p50 "
                  f"{statistics.median(ms):.0f} ms, p99 {ms[int(len(ms) * 0.99) - 1]:.0f} ms, "
                  f"max {ms[-1]:.0f} ms")
        finally:
            await engine.dispose()
        print(f"machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    asyncio.run(main())
