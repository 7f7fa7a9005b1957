"""Event bus throughput and latency: outbox -> relay -> Kafka -> inbox consumer.

    python bench/event_bus.py [--events 100000] [--rate 1000] [--seconds 20]

Runs against CANBAO_TEST_DATABASE_URL / CANBAO_KAFKA_BOOTSTRAP_SERVERS when set, otherwise an
embedded PostgreSQL and the tansu broker. Three figures, from the same run:
1. ceiling: raw aiokafka produce -> group consume of the same number of messages;
2. sustained: a backlog of N events in the outbox drained through relay and consumer
   (separate processes, as in production) into the inbox;
3. latency: events written at a fixed rate; time from the outbox commit to the inbox commit.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
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
from shared.events import CloudEvent  # noqa: E402
from shared.inbox import InboxConsumer  # noqa: E402
from shared.kafka import ensure_topics, make_consumer, make_producer  # noqa: E402
from shared.outbox import Outbox, OutboxRelay  # noqa: E402
from shared.settings import Settings  # noqa: E402

SCHEMA = "reporting"


def thing_happened(topic: str) -> type[EventModel]:
    """The bench's event contract on `topic`, keyed by `who`."""

    class ThingHappened(EventModel):
        TOPIC = topic
        TYPE = "bench.thing_happened.v1"
        KEY = "who"
        i: int
        who: str
        plan_year: int | None = None

    return ThingHappened


def _settings(env: dict[str, str]) -> Settings:
    os.environ.update(env)
    return Settings()


async def raw_ceiling(settings: Settings, n: int) -> float:
    topic = f"bench.raw.{uuid.uuid4().hex[:6]}"
    await ensure_topics(settings, [topic])
    producer = make_producer(settings)
    await producer.start()
    consumer = make_consumer(settings, f"bench-raw-{uuid.uuid4().hex[:6]}", [topic])
    await consumer.start()
    await consumer.getmany(timeout_ms=100)
    value = b'{"person_id": "' + b"x" * 36 + b'", "plan_year": 2025, "amount_fen": 40000}'
    started = time.perf_counter()

    async def produce() -> None:
        for i in range(n):
            await producer.send(topic, value=value, key=str(i % 5000).encode())
        await producer.flush()

    task = asyncio.create_task(produce())
    seen = 0
    while seen < n:
        for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
            seen += len(records)
    await task
    elapsed = time.perf_counter() - started
    await consumer.stop()
    await producer.stop()
    return n / elapsed


def relay_process(env: dict[str, str], stop_flag) -> None:  # noqa: ANN001
    async def main() -> None:
        settings = _settings(env)
        engine = make_engine(settings, pool_size=4)
        producer = make_producer(settings)
        await producer.start()
        relay = OutboxRelay(engine, SCHEMA, producer, batch_size=1000, poll_interval=0.005)
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        while not stop_flag.is_set():
            await asyncio.sleep(0.1)
        stop.set()
        await task
        await producer.stop()
        await engine.dispose()

    asyncio.run(main())


def consumer_process(env: dict[str, str], topic: str, group: str, stop_flag,  # noqa: ANN001
                     results: mp.Queue) -> None:
    async def main() -> None:
        settings = _settings(env)
        engine = make_engine(settings, pool_size=4)
        latencies: list[float] = []

        async def handle(_session, event: CloudEvent) -> None:  # noqa: ANN001
            latencies.append(time.time() - event.time.timestamp())

        producer = make_producer(settings)
        await producer.start()
        consumer = InboxConsumer(
            name=group, schema=SCHEMA, topics=[topic], handler=handle,
            sessions=make_sessionmaker(engine),
            consumer_factory=lambda: make_consumer(settings, group, [topic]),
            dlt_producer=producer,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        while not stop_flag.is_set():
            await asyncio.sleep(0.1)
        stop.set()
        await task
        await producer.stop()
        await engine.dispose()
        results.put(latencies)

    asyncio.run(main())


async def inbox_count(engine, group: str) -> int:  # noqa: ANN001
    async with engine.connect() as conn:
        return int((await conn.execute(
            text(f"SELECT count(*) FROM {SCHEMA}.inbox WHERE consumer = :c"), {"c": group})).scalar_one())


async def write_backlog(engine, topic: str, n: int) -> None:  # noqa: ANN001
    outbox, thing = Outbox(SCHEMA), thing_happened(topic)
    for start in range(0, n, 5000):
        async with engine.begin() as conn:
            await outbox.add_many(conn, [
                thing(i=i, plan_year=2025, who=f"person-{i % 50_000}")
                for i in range(start, min(n, start + 5000))
            ])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()

    infra = await start_test_infra(ROOT / ".canbao")
    env = infra.env() | {"CANBAO_TOPIC_PARTITIONS": "6"}
    settings = _settings(env)
    engine = make_engine(settings)
    ctx = mp.get_context("spawn")
    try:
        print(f"broker: {infra.broker_kind} at {infra.bootstrap_servers}; cores: {os.cpu_count()}")
        ceiling = await raw_ceiling(settings, args.events)
        print(f"ceiling  raw aiokafka produce->consume: {ceiling:,.0f} msg/s ({args.events:,} msgs)")

        # 1. sustained throughput: drain a backlog
        topic = f"bench.bus.{uuid.uuid4().hex[:6]}"
        group = f"bench-{uuid.uuid4().hex[:6]}"
        await ensure_topics(settings, [topic])
        await write_backlog(engine, topic, args.events)
        stop_flag = ctx.Event()
        results: mp.Queue = ctx.Queue()
        consumer = ctx.Process(target=consumer_process, args=(env, topic, group, stop_flag, results))
        consumer.start()
        await asyncio.sleep(4)  # let the consumer join its group first
        started = time.perf_counter()
        relay = ctx.Process(target=relay_process, args=(env, stop_flag))
        relay.start()
        while await inbox_count(engine, group) < args.events:
            await asyncio.sleep(0.05)
        sustained = args.events / (time.perf_counter() - started)
        print(f"sustained outbox->relay->kafka->inbox: {sustained:,.0f} events/s "
              f"({args.events:,} events, relay and consumer in separate processes)")
        stop_flag.set()  # graceful: the relay gives its shard leases back
        results.get(timeout=60)
        relay.join()
        consumer.join()

        # 2. latency at a fixed rate
        topic = f"bench.lat.{uuid.uuid4().hex[:6]}"
        group = f"bench-lat-{uuid.uuid4().hex[:6]}"
        await ensure_topics(settings, [topic])
        stop_flag = ctx.Event()
        consumer = ctx.Process(target=consumer_process, args=(env, topic, group, stop_flag, results))
        consumer.start()
        relay = ctx.Process(target=relay_process, args=(env, stop_flag))
        relay.start()
        await asyncio.sleep(5)
        outbox, thing = Outbox(SCHEMA), thing_happened(topic)
        tick = 0.02
        per_tick = max(1, int(args.rate * tick))
        sent = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            async with engine.begin() as conn:
                await outbox.add_many(conn, [
                    thing(i=sent + k, who=f"person-{(sent + k) % 50_000}")
                    for k in range(per_tick)
                ])
            sent += per_tick
            next_at = t0 + (sent / per_tick) * tick
            await asyncio.sleep(max(0, next_at - time.perf_counter()))
        achieved = sent / (time.perf_counter() - t0)
        while await inbox_count(engine, group) < sent:
            await asyncio.sleep(0.05)
        stop_flag.set()
        latencies = results.get(timeout=60)
        consumer.join()
        relay.join()
        latencies.sort()
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
        print(f"latency at {achieved:,.0f} events/s for {args.seconds}s: {len(latencies):,} events, "
              f"p50 {p(0.50):.0f} ms, p99 {p(0.99):.0f} ms, max {latencies[-1] * 1000:.0f} ms, "
              f"mean {statistics.mean(latencies) * 1000:.0f} ms")
    finally:
        await engine.dispose()
        infra.stop()


if __name__ == "__main__":
    asyncio.run(main())
