"""The event bus against the real broker and database: outbox -> relay -> Kafka -> inbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from contracts.base import EventModel
from devtools.infra import create_database
from devtools.testing.infra import TestInfra
from shared.db import make_engine, make_sessionmaker
from shared.dlt import replay
from shared.events import CloudEvent
from shared.inbox import InboxConsumer
from shared.kafka import ensure_topics, make_consumer, make_producer
from shared.migrations import upgrade
from shared.outbox import Outbox, OutboxRelay
from shared.topics import dead_letter_topic

SCHEMA = "reporting"  # any migrated schema has outbox and inbox tables


@pytest.fixture
async def engine(infra: TestInfra) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(infra.settings())
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS public.applied "
                                "(consumer text, event_id text, n int, seq bigserial)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def topic() -> str:
    return f"test.bus.{uuid.uuid4().hex[:8]}"


async def _clear_outbox(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f"UPDATE {SCHEMA}.outbox SET sent_at = now() WHERE sent_at IS NULL"))
        await conn.execute(text(f"UPDATE {SCHEMA}.outbox_lease SET lease_until = '-infinity'"))
        await conn.execute(text(f"DELETE FROM {SCHEMA}.outbox_relay"))


def thing_happened(topic: str) -> type[EventModel]:
    """A test event contract on `topic`, keyed by `who`."""

    class ThingHappened(EventModel):
        TOPIC = topic
        TYPE = "test.thing_happened.v1"
        KEY = "who"
        i: int
        who: str

    return ThingHappened


async def _write_events(engine: AsyncEngine, topic: str, n: int, keys: int = 7) -> None:
    outbox, thing = Outbox(SCHEMA), thing_happened(topic)
    async with engine.begin() as conn:
        await outbox.add_many(conn, [thing(i=i, who=f"person-{i % keys}") for i in range(n)])


async def _backlog(infra: TestInfra, engine: AsyncEngine, topic: str, n: int, keys: int
                   ) -> AIOKafkaProducer:
    """`n` events over `keys` keys waiting in the outbox (and nothing older), the topic made;
    a started producer for the test's relay."""
    settings = infra.settings()
    await ensure_topics(settings, [topic])
    await _clear_outbox(engine)
    await _write_events(engine, topic, n, keys=keys)
    producer = make_producer(settings)
    await producer.start()
    return producer


def _recording_handler(consumer: str, fail_on: set[int] | None = None):  # noqa: ANN202
    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        if fail_on and event.data.get("i") in fail_on:
            raise ValueError(f"cannot apply event {event.data['i']}")
        await session.execute(
            text("INSERT INTO public.applied (consumer, event_id, n) VALUES (:c, :e, :n)"),
            {"c": consumer, "e": event.id, "n": event.data.get("i")},
        )

    return handle


async def _applied(engine: AsyncEngine, consumer: str) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT n FROM public.applied WHERE consumer = :c ORDER BY n"),
                                  {"c": consumer})
        return [r[0] for r in rows]


async def _kafka_messages(infra: TestInfra, topic: str, expect: int, timeout: float = 15) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=infra.bootstrap_servers,
                                auto_offset_reset="earliest", group_id=f"probe-{uuid.uuid4().hex}",
                                session_timeout_ms=3000, heartbeat_interval_ms=500)
    await consumer.start()
    got: list = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(got) < expect and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                got.extend(records)
        # a short grace period to catch extra (duplicate) deliveries
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            got.extend(records)
    finally:
        await consumer.stop()
    return got


def _consumer(infra: TestInfra, engine: AsyncEngine, name: str, topic: str, handler, producer):  # noqa: ANN001, ANN202
    settings = infra.settings()
    return InboxConsumer(
        name=name, schema=SCHEMA, topics=[topic], handler=handler,
        sessions=make_sessionmaker(engine),
        consumer_factory=lambda: make_consumer(settings, name, [topic]),
        dlt_producer=producer, max_failures=2,
    )


async def eventually(predicate, timeout: float = 20) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def test_relay_killed_before_publishing_loses_nothing(infra: TestInfra, engine: AsyncEngine,
                                                           topic: str) -> None:
    settings = infra.settings()
    await ensure_topics(settings, [topic])
    await _clear_outbox(engine)
    await _write_events(engine, topic, 200)  # committed; no relay has run yet

    # A relay that dies after claiming its shards and reading the batch, before Kafka got it.
    producer = make_producer(settings)
    await producer.start()
    doomed = OutboxRelay(engine, SCHEMA, producer, lease_seconds=2)

    async def die(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise asyncio.CancelledError  # the process is gone

    class Dead:
        """The producer of a process that is gone: it knows the partitions, then dies
        before the broker gets a batch."""
        partitions_for = staticmethod(producer.partitions_for)
        create_batch = staticmethod(producer.create_batch)
        send_batch = send = die

    doomed.producer = Dead()  # type: ignore[assignment]
    with pytest.raises(asyncio.CancelledError):
        await doomed.run_once()

    # A second relay takes over once the dead one's leases expire.
    survivor = OutboxRelay(engine, SCHEMA, producer, lease_seconds=2)
    published = 0
    deadline = asyncio.get_running_loop().time() + 15
    while published < 200 and asyncio.get_running_loop().time() < deadline:
        published += await survivor.run_once()
        await asyncio.sleep(0.1)
    await producer.stop()
    messages = await _kafka_messages(infra, topic, 200)
    assert sorted(orjson.loads(m.value)["i"] for m in messages) == list(range(200))


async def test_relay_killed_after_publishing_before_marking_is_applied_once(
    infra: TestInfra, engine: AsyncEngine, topic: str
) -> None:
    settings = infra.settings()
    await ensure_topics(settings, [topic])
    await _clear_outbox(engine)
    await _write_events(engine, topic, 50)
    producer = make_producer(settings)
    await producer.start()
    doomed = OutboxRelay(engine, SCHEMA, producer, lease_seconds=2)
    doomed._mark_sent = text("SELECT pg_terminate_backend(pg_backend_pid())")  # dies at the mark
    with pytest.raises(DBAPIError):  # the connection is gone
        await doomed.run_once()
    survivor = OutboxRelay(engine, SCHEMA, producer, lease_seconds=2)
    async def drained() -> bool:
        await survivor.run_once()
        return await survivor.backlog() == 0
    await eventually(drained)

    consumer = _consumer(infra, engine, f"c-{topic}", topic, _recording_handler(f"c-{topic}"), producer)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        async def all_seen() -> bool:
            return consumer.applied + consumer.duplicates >= 100
        await eventually(all_seen)
    finally:
        stop.set()
        await task
        await producer.stop()
    assert await _applied(engine, f"c-{topic}") == list(range(50))  # each once
    assert consumer.duplicates == 50


async def test_event_delivered_twice_is_applied_once(infra: TestInfra, engine: AsyncEngine,
                                                     topic: str) -> None:
    settings = infra.settings()
    await ensure_topics(settings, [topic])
    producer = make_producer(settings)
    await producer.start()
    event = CloudEvent(source="test", type="test.thing_happened.v1", data={"i": 1}, partitionkey="p1")
    other = CloudEvent(source="test", type="test.thing_happened.v1", data={"i": 2}, partitionkey="p1")
    for e in (event, event, other, event):
        key, value, headers = e.to_kafka()
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    name = f"dup-{topic}"
    consumer = _consumer(infra, engine, name, topic, _recording_handler(name), producer)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        async def seen() -> bool:
            return consumer.applied + consumer.duplicates >= 4
        await eventually(seen)
    finally:
        stop.set()
        await task
    # and a restarted consumer group re-reading nothing new applies nothing
    assert await _applied(engine, name) == [1, 2]
    assert consumer.duplicates == 2
    await producer.stop()


async def test_poison_message_goes_to_dead_letter_and_consumer_carries_on(
    infra: TestInfra, engine: AsyncEngine, topic: str
) -> None:
    settings = infra.settings()
    name = f"poison-{topic}"
    await ensure_topics(settings, [topic, dead_letter_topic(name)])
    producer = make_producer(settings)
    await producer.start()
    for i in range(10):
        e = CloudEvent(source="test", type="test.thing_happened.v1", data={"i": i}, partitionkey="k")
        key, value, headers = e.to_kafka()
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    # a message that is not a CloudEvent at all
    await producer.send_and_wait(topic, value=b"\xff not json", key=b"k")
    consumer = _consumer(infra, engine, name, topic, _recording_handler(name, fail_on={3}), producer)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        async def done() -> bool:
            return consumer.applied == 9 and consumer.dead_lettered == 2
        await eventually(done)
    finally:
        stop.set()
        await task
    assert await _applied(engine, name) == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    dead = await _kafka_messages(infra, dead_letter_topic(name), 2)
    reasons = sorted(dict(m.headers)["dlt_reason"].decode() for m in dead)
    assert reasons[0].startswith("ValueError: cannot apply event 3")
    assert reasons[1].startswith("malformed event")

    # After the fix, replaying the dead-letter topic applies the event once.
    fixed = _consumer(infra, engine, name, topic, _recording_handler(name), producer)
    stop = asyncio.Event()
    task = asyncio.create_task(fixed.run(stop))
    try:
        assert await replay(settings, name) == 2
        async def replayed() -> bool:
            return fixed.applied == 1 and fixed.dead_lettered == 1  # the malformed one again
        await eventually(replayed)
    finally:
        stop.set()
        await task
        await producer.stop()
    assert await _applied(engine, name) == list(range(10))


async def test_two_relays_share_the_shards_and_keep_each_keys_order(
    infra: TestInfra, engine: AsyncEngine, topic: str
) -> None:
    settings = infra.settings()
    await ensure_topics(settings, [topic])
    await _clear_outbox(engine)
    producer = make_producer(settings)
    await producer.start()
    relays = [OutboxRelay(engine, SCHEMA, producer, batch_size=50, lease_seconds=5,
                          poll_interval=0.01) for _ in range(2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in relays]
    try:
        async def shared_out() -> bool:  # leases are rebalanced at each renewal (about 1 s)
            return bool(relays[0].shards) and bool(relays[1].shards)
        await eventually(shared_out)
        for start in range(0, 600, 100):  # written while both relays run
            async with engine.begin() as conn:
                await Outbox(SCHEMA).add_many(conn, [
                    thing_happened(topic)(i=i, who=f"person-{i % 7}")
                    for i in range(start, start + 100)])
            await asyncio.sleep(0.05)

        async def drained() -> bool:
            return await relays[0].backlog() == 0
        await eventually(drained)
        assert relays[0].published > 0 and relays[1].published > 0  # both did work
        assert set(relays[0].shards).isdisjoint(relays[1].shards)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await producer.stop()
    messages = await _kafka_messages(infra, topic, 600)
    by_key: dict[bytes, list[int]] = {}
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        by_key.setdefault(m.key, []).append(orjson.loads(m.value)["i"])
    assert sorted(i for seq in by_key.values() for i in seq) == list(range(600))
    for key, seq in by_key.items():
        assert seq == sorted(seq), f"{key!r} out of order"


async def test_parallel_partitions_apply_everything_once_and_each_key_in_order(
    infra: TestInfra, engine: AsyncEngine, topic: str
) -> None:
    settings = infra.settings()
    producer = await _backlog(infra, engine, topic, 600, keys=12)
    relay = OutboxRelay(engine, SCHEMA, producer, batch_size=600, poll_interval=0.01)
    await relay.run_once()
    name = f"parallel-{uuid.uuid4().hex[:6]}"
    in_flight = {"now": 0, "max": 0}
    record = _recording_handler(name)

    async def slow_handler(session: AsyncSession, event: CloudEvent) -> None:
        in_flight["now"] += 1
        in_flight["max"] = max(in_flight["max"], in_flight["now"])
        try:
            await session.execute(text("SELECT pg_sleep(0.002)"))  # a database round trip
            await record(session, event)
        finally:
            in_flight["now"] -= 1

    consumer = InboxConsumer(
        name=name, schema=SCHEMA, topics=[topic], handler=slow_handler,
        sessions=make_sessionmaker(engine),
        consumer_factory=lambda: make_consumer(settings, name, [topic]),
        dlt_producer=producer, max_failures=2, parallel_partitions=3,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        async def all_applied() -> bool:
            return len(await _applied(engine, name)) >= 600
        await eventually(all_applied, timeout=60)
    finally:
        stop.set()
        await task
        await producer.stop()
    assert await _applied(engine, name) == list(range(600))  # each exactly once
    assert in_flight["max"] > 1  # partitions were really applied side by side
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT n FROM public.applied WHERE consumer = :c ORDER BY seq"), {"c": name})).all()
    assert len(rows) == 600
    by_key: dict[int, list[int]] = {}
    for (n,) in rows:  # applied order per key: the order the handler ran, even inside a batch
        by_key.setdefault(n % 12, []).append(n)
    for key, seq in by_key.items():
        assert seq == sorted(seq), f"key {key} applied out of order"


async def test_relay_puts_each_key_where_the_producer_would_in_order(
        infra: TestInfra, engine: AsyncEngine, topic: str) -> None:
    """The relay hands the broker whole record batches (one per partition) instead of one
    message at a time: each key's events still land on the partition aiokafka's own `send`
    picks (murmur2 of the key), in the order they were written, each once and readable as a
    CloudEvent with its attributes. 1,500 events over 40 keys: more than one relay batch."""
    producer = await _backlog(infra, engine, topic, 1500, keys=40)
    try:
        relay = OutboxRelay(engine, SCHEMA, producer, batch_size=600)
        published = 0
        while published < 1500:
            n = await relay.run_once()
            assert n, "the relay stopped before publishing everything"
            published += n
        partitions = sorted(await producer.partitions_for(topic))
    finally:
        await producer.stop()
    assert len(partitions) > 1
    messages = await _kafka_messages(infra, topic, 1500)
    assert len(messages) == 1500
    per_key: dict[str, list[int]] = {}
    used = set()
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        event = CloudEvent.from_kafka(m.key, m.value, m.headers)
        assert event.partitionkey == event.data["who"] and event.type == "test.thing_happened.v1"
        assert m.partition == DefaultPartitioner()(m.key, partitions, partitions)
        used.add(m.partition)
        per_key.setdefault(event.partitionkey, []).append(event.data["i"])
    assert len(used) > 1
    assert len(per_key) == 40
    assert all(ns == sorted(ns) for ns in per_key.values())
    assert sorted(i for ns in per_key.values() for i in ns) == list(range(1500))



async def test_sent_rows_past_the_retention_period_are_pruned_and_nothing_else(
        infra: TestInfra, topic: str) -> None:
    """A running relay with a retention period deletes the rows of its shards sent longer ago
    than that, a batch at a time, while the broker refuses what is left to publish, and keeps
    the rows sent since and the rows never sent, whatever their age. In a database of its own
    (no other test's rows): 30 events published; the 12 oldest made to look sent 15 days ago,
    the next 3 written 15 days ago and never sent; retention 14 days, batches of 5."""
    settings = infra.settings()
    url = await create_database(infra.database_url, f"canbao_test_prune_{uuid.uuid4().hex[:8]}",
                                drop_first=True)
    await asyncio.to_thread(upgrade, SCHEMA, url)
    engine = make_engine(infra.settings(database_url=url))
    await ensure_topics(settings, [topic])
    await _write_events(engine, topic, 30, keys=3)
    producer = make_producer(settings)
    await producer.start()
    relay = OutboxRelay(engine, SCHEMA, producer, poll_interval=0.01, retention=14 * 86400,
                        prune_every=0.05, prune_batch=5)
    try:
        published = 0
        while published < 30:
            published += await relay.run_once()
        async with engine.begin() as conn:
            mine = [r[0] for r in await conn.execute(text(
                f"SELECT seq FROM {SCHEMA}.outbox ORDER BY seq"))]
            assert len(mine) == 30
            old_sent, unsent = mine[:12], mine[12:15]
            await conn.execute(text(f"""UPDATE {SCHEMA}.outbox SET
                sent_at = now() - interval '15 days' WHERE seq = ANY(:s)"""), {"s": old_sent})
            await conn.execute(text(f"""UPDATE {SCHEMA}.outbox SET sent_at = NULL,
                created_at = now() - interval '15 days', attempts = 9 WHERE seq = ANY(:s)"""),
                {"s": unsent})
        relay.producer = _Refusing(producer)  # type: ignore[assignment]
        stop = asyncio.Event()
        running = asyncio.create_task(relay.run(stop))
        for _ in range(200):  # up to 10 s
            if relay.pruned >= 12:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # a few more rounds: nothing else goes
        stop.set()
        await running
        async with engine.connect() as conn:
            left = {r[0] for r in await conn.execute(text(f"SELECT seq FROM {SCHEMA}.outbox"))}
    finally:
        await producer.stop()
        await engine.dispose()
    assert relay.pruned == 12
    assert left == set(mine) - set(old_sent)


class _Refusing:
    """A producer whose broker refuses every batch (the relay counts an attempt and goes on)."""

    def __init__(self, real: AIOKafkaProducer) -> None:
        self.partitions_for = real.partitions_for
        self.create_batch = real.create_batch

    async def send_batch(self, *_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("the broker refuses")
