"""What an idle outbox relay costs, and what its back-off costs the first event after a quiet
spell.

    python bench/relay_idle.py [--seconds 10] [--quiet 3]

Two relays over the same empty outbox (reporting's, on the same PostgreSQL and broker), one
after the other: the baseline polls every `relay_poll_interval_ms` (50 ms) whatever happens,
as every relay did before; the other backs off to `relay_idle_poll_interval_ms` (the default
setting). For each: polls per second and the relay's CPU time per second while nothing is
written, then, after `--quiet` seconds of nothing, the time from one event's commit to its
`sent_at` (five times).

Runs against CANBAO_TEST_DATABASE_URL / CANBAO_KAFKA_BOOTSTRAP_SERVERS when set, otherwise an
embedded PostgreSQL and the tansu broker.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from contracts.base import EventModel  # noqa: E402
from devtools.testing.infra import start_test_infra  # noqa: E402
from shared.db import make_engine, make_sessionmaker  # noqa: E402
from shared.kafka import ensure_topics, make_producer  # noqa: E402
from shared.outbox import Outbox, OutboxRelay  # noqa: E402
from shared.settings import Settings  # noqa: E402

SCHEMA = "reporting"


class Pinged(EventModel):
    TOPIC = "bench.relay_idle"
    TYPE = "bench.pinged.v1"
    KEY = "who"
    who: str


class CountingRelay(OutboxRelay):
    polls = 0

    async def run_once(self) -> int:
        self.polls += 1
        return await super().run_once()


async def measure(settings: Settings, idle_interval: float, seconds: float,
                  quiet: float) -> tuple[float, float, list[float]]:
    engine = make_engine(settings, pool_size=4)
    producer = make_producer(settings)
    await producer.start()
    relay = CountingRelay(engine, SCHEMA, producer, poll_interval=0.05,
                          idle_interval=idle_interval)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(2)  # leases taken, the pool warm
    polls, cpu, started = relay.polls, time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - started
    rate, cpu_ms = (relay.polls - polls) / elapsed, (time.process_time() - cpu) / elapsed * 1000
    outbox, sessions, delays = Outbox(SCHEMA), make_sessionmaker(engine), []
    for _ in range(5):
        await asyncio.sleep(quiet)
        async with sessions() as session, session.begin():
            event_id = await outbox.add(session, Pinged(who=uuid.uuid4().hex))
        committed = time.perf_counter()
        while True:
            async with engine.connect() as conn:
                sent = (await conn.execute(text(
                    f"SELECT sent_at IS NOT NULL FROM {SCHEMA}.outbox WHERE event_id = :e"),
                    {"e": event_id})).scalar()
            if sent:
                break
            await asyncio.sleep(0.002)
        delays.append((time.perf_counter() - committed) * 1000)
    stop.set()
    await task
    await producer.stop()
    await engine.dispose()
    return rate, cpu_ms, delays


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--quiet", type=float, default=3)
    args = parser.parse_args()
    infra = await start_test_infra(ROOT / ".canbao")
    try:
        settings = infra.settings()
        await ensure_topics(settings, [Pinged.TOPIC])
        print(f"broker: {infra.broker_kind}; {args.seconds:.0f} s idle, then 5 events each "
              f"after {args.quiet:.0f} s of nothing")
        default = Settings.model_fields["relay_idle_poll_interval_ms"].default / 1000
        for name, idle in (("baseline: every 50 ms", 0.05),
                           (f"back-off to {default * 1000:.0f} ms", default)):
            rate, cpu_ms, delays = await measure(settings, idle, args.seconds, args.quiet)
            print(f"{name:24} {rate:5.1f} polls/s, relay CPU {cpu_ms:5.2f} ms/s; first event "
                  f"after the quiet spell sent in {statistics.median(delays):.0f} ms median, "
                  f"{max(delays):.0f} ms max")
    finally:
        infra.stop()


if __name__ == "__main__":
    asyncio.run(main())
