"""Idempotent consumer: each event is applied once, in the same transaction as its inbox row.

A batch of messages from one partition is applied in one transaction: the inbox insert
(`ON CONFLICT DO NOTHING`) tells which events are new, the handler applies those, the
transaction commits, and only then is the Kafka offset committed. A crash between the two
commits redelivers the batch, and the inbox turns the redelivery into a no-op.

If a batch fails, its messages are retried one by one; a message that still fails after
`max_failures` attempts is published to the dead-letter topic with the reason and the
consumer carries on. Messages that are not CloudEvents go there at once. While the database
itself is unreachable nothing is dead-lettered: the consumer waits and retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.events import CloudEvent, MalformedEvent
from shared.observability import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    EVENTS_CONSUMED,
    EVENTS_DUPLICATE,
    correlation_id,
)
from shared.topics import dead_letter_topic

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]


class EventRouter:
    """Maps event types to handlers; types nobody handles are acknowledged and skipped."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}

    def on(self, *event_types: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            for t in event_types:
                self.handlers[t] = fn
            return fn

        return register

    async def __call__(self, session: AsyncSession, event: CloudEvent) -> None:
        handler = self.handlers.get(event.type)
        if handler is not None:
            await handler(session, event)


def is_transient(exc: BaseException) -> bool:
    """Database or network unavailable, or a concurrency conflict: retry, never dead-letter."""
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | OSError | TimeoutError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    name = type(getattr(exc, "orig", exc)).__name__
    return name in {
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "ConnectionFailureError",
        "InterfaceError",
        "AdminShutdownError",
        "TooManyConnectionsError",
        # Concurrency conflicts: retrying the same batch is the cure, not the dead-letter topic.
        "DeadlockDetectedError",
        "SerializationError",
    }


@dataclass
class Decoded:
    record: ConsumerRecord
    event: CloudEvent


class InboxConsumer:
    def __init__(
        self,
        *,
        name: str,
        schema: str,
        topics: Sequence[str],
        handler: Handler,
        sessions: async_sessionmaker[AsyncSession],
        consumer_factory: Callable[[], AIOKafkaConsumer],
        dlt_producer: AIOKafkaProducer,
        max_failures: int = 3,
        service: str | None = None,
    ) -> None:
        self.name = name
        self.schema = schema
        self.topics = list(topics)
        self.handler = handler
        self.sessions = sessions
        self.consumer_factory = consumer_factory
        self.dlt_producer = dlt_producer
        self.max_failures = max_failures
        self.service = service or schema
        self.dlt_topic = dead_letter_topic(name)
        self.applied = 0
        self.duplicates = 0
        self.dead_lettered = 0
        self.healthy = False
        self._inbox_insert = text(
            f"""INSERT INTO {schema}.inbox (consumer, source, event_id, event_type)
                SELECT :consumer, s, i, t FROM unnest(CAST(:sources AS text[]),
                    CAST(:ids AS text[]), CAST(:types AS text[])) AS u(s, i, t)
                ON CONFLICT DO NOTHING RETURNING source, event_id"""
        )

    # -- the loop -----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            consumer = self.consumer_factory()
            try:
                await consumer.start()
                self.healthy = True
                backoff = 0.5
                while not stop.is_set():
                    batches = await consumer.getmany(timeout_ms=200)
                    for tp, records in batches.items():
                        if stop.is_set():
                            break  # uncommitted: redelivered to whoever takes the partition
                        await self._process_partition(consumer, tp, records, stop)
                    await self._report_lag(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.healthy = False
                log.warning("consumer %s: %s; restarting in %.1fs", self.name, exc, backoff,
                            extra={"consumer": self.name})
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                try:
                    await consumer.stop()
                except Exception:  # pragma: no cover - best effort at shutdown
                    pass

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        lag = 0
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                lag += max(0, highwater - await consumer.position(tp))
        CONSUMER_LAG.labels(self.service, self.name).set(lag)

    async def _process_partition(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        records: list[ConsumerRecord],
        stop: asyncio.Event,
    ) -> None:
        decoded: list[Decoded] = []
        for record in records:
            try:
                event = CloudEvent.from_kafka(record.key, record.value, record.headers)
            except MalformedEvent as exc:
                await self._dead_letter(record, f"malformed event: {exc}")
                continue
            decoded.append(Decoded(record, event))
        backoff = 0.5
        while True:
            try:
                await self._apply(decoded)
                break
            except Exception as exc:
                if is_transient(exc):
                    log.warning("consumer %s: database unavailable (%s); retrying", self.name, exc)
                    if stop.is_set():
                        return  # offsets not committed: redelivered later
                    await _sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                await self._apply_one_by_one(decoded, stop)
                break
        await consumer.commit({tp: records[-1].offset + 1})

    async def _apply(self, items: Sequence[Decoded]) -> None:
        if not items:
            return
        async with self.sessions() as session, session.begin():
            fresh = await self._claim(session, items)
            new = len(fresh)
            for item in items:
                key = (item.event.source, item.event.id)
                if key in fresh:
                    fresh.discard(key)  # a duplicate later in the same batch is skipped
                    token = correlation_id.set(item.event.correlationid)
                    try:
                        await self.handler(session, item.event)
                    finally:
                        correlation_id.reset(token)
        self.applied += new
        self.duplicates += len(items) - new
        EVENTS_CONSUMED.labels(self.service, self.name).inc(new)
        if len(items) > new:
            EVENTS_DUPLICATE.labels(self.service, self.name).inc(len(items) - new)

    async def _claim(self, session: AsyncSession, items: Sequence[Decoded]) -> set[tuple[str, str]]:
        result = await session.execute(
            self._inbox_insert,
            {
                "consumer": self.name,
                "sources": [i.event.source for i in items],
                "ids": [i.event.id for i in items],
                "types": [i.event.type for i in items],
            },
        )
        return {(r[0], r[1]) for r in result}

    async def _apply_one_by_one(self, items: Sequence[Decoded], stop: asyncio.Event) -> None:
        for item in items:
            failures = 0
            backoff = 0.1
            while True:
                try:
                    await self._apply([item])
                    break
                except Exception as exc:
                    if is_transient(exc):
                        await _sleep_or_stop(stop, backoff)
                        backoff = min(backoff * 2, 10.0)
                        if stop.is_set():
                            raise
                        continue
                    failures += 1
                    if failures >= self.max_failures:
                        log.error(
                            "consumer %s: event %s failed %d times, dead-lettered: %r",
                            self.name, item.event.id, failures, exc,
                            extra={"consumer": self.name, "event_id": item.event.id},
                        )
                        await self._dead_letter(item.record, f"{type(exc).__name__}: {exc}")
                        break
                    await asyncio.sleep(backoff)
                    backoff *= 2

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("dlt_")]
        headers += [
            ("dlt_reason", reason[:1000].encode()),
            ("dlt_topic", record.topic.encode()),
            ("dlt_partition", str(record.partition).encode()),
            ("dlt_offset", str(record.offset).encode()),
            ("dlt_consumer", self.name.encode()),
        ]
        await self.dlt_producer.send_and_wait(
            self.dlt_topic, value=record.value, key=record.key, headers=headers
        )
        self.dead_lettered += 1
        DEAD_LETTERS.labels(self.service, self.name).inc()
        log.error("consumer %s: dead-lettered %s[%d]@%d: %s", self.name, record.topic,
                  record.partition, record.offset, reason, extra={"consumer": self.name})


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
