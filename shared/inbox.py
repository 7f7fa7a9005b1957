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
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.base import EventModel
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
M = TypeVar("M", bound=EventModel)
# a handler of one contract: the session, the payload its model validated, the envelope
TypedHandler = Callable[[AsyncSession, M, CloudEvent], Awaitable[None]]
# a handler of a run of consecutive events of one contract, applied together (set based)
BatchHandler = Callable[[AsyncSession, list[tuple[M, CloudEvent]]], Awaitable[None]]


class EventRouter:
    """Maps event contracts (contracts/) to handlers. A consumer names the models it handles;
    each event of those types reaches its handler as the model, validated: a payload the model
    refuses is dead-lettered (it would be refused again). Types nobody handles are acknowledged
    and skipped.

    A contract registered with `on_batch` reaches its handler as runs: each run of consecutive
    events of that type in a consumer's batch arrives in one call, in order (the handler sets
    each event's correlation id where it needs it). The inbox retries a failed batch one event
    at a time, so a run of one is the same handler's fallback."""

    def __init__(self) -> None:
        self.handlers: dict[str, tuple[type[EventModel], TypedHandler[Any]]] = {}
        self.batch_handlers: dict[str, tuple[type[EventModel], BatchHandler[Any]]] = {}

    def on(self, *models: type[M]) -> Callable[[TypedHandler[M]], TypedHandler[M]]:
        def register(fn: TypedHandler[M]) -> TypedHandler[M]:
            for model in models:
                self.handlers[model.TYPE] = (model, fn)
            return fn

        return register

    def on_batch(self, *models: type[M]) -> Callable[[BatchHandler[M]], BatchHandler[M]]:
        def register(fn: BatchHandler[M]) -> BatchHandler[M]:
            for model in models:
                self.batch_handlers[model.TYPE] = (model, fn)
            return fn

        return register

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics of the handled contracts, in the order they were named."""
        named = [*self.handlers.values(), *self.batch_handlers.values()]
        return tuple(dict.fromkeys(model.TOPIC for model, _ in named))

    async def __call__(self, session: AsyncSession, event: CloudEvent) -> None:
        await self.apply_all(session, [event])

    async def apply_all(self, session: AsyncSession, events: Sequence[CloudEvent]) -> None:
        """Apply events in their order, each run of one batch contract in one call."""
        i = 0
        while i < len(events):
            event = events[i]
            batch = self.batch_handlers.get(event.type)
            if batch is not None:
                j = i + 1
                while j < len(events) and events[j].type == event.type:
                    j += 1
                model, run = batch
                await run(session, [(model.model_validate(e.data), e) for e in events[i:j]])
                i = j
                continue
            entry = self.handlers.get(event.type)
            if entry is not None:
                model, handler = entry
                token = correlation_id.set(event.correlationid)
                try:
                    await handler(session, model.model_validate(event.data), event)
                finally:
                    correlation_id.reset(token)
            i += 1


_TRANSIENT_NAMES = frozenset({
    "ConnectionDoesNotExistError",
    "CannotConnectNowError",
    "ConnectionFailureError",
    "InterfaceError",
    "AdminShutdownError",
    "CrashShutdownError",
    "TooManyConnectionsError",
    # asyncpg's "cannot switch to state N; another operation is in progress": a connection
    # still consuming the error of a server that went away (seen while PostgreSQL restarted)
    "InternalClientError",
    # Concurrency conflicts: retrying the same batch is the cure, not the dead-letter topic.
    "DeadlockDetectedError",
    "SerializationError",
})
# SQLSTATEs of a server that is away, going away, coming back or overloaded, and of
# concurrency conflicts: class 08 (connection exception), class 53 (insufficient resources),
# 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now ("the database system
# is starting up / shutting down"), 40001 serialization failure, 40P01 deadlock.
_TRANSIENT_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03", "40001", "40P01")


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, the driver error SQLAlchemy wraps (`orig`) and what that was raised from:
    SQLAlchemy's asyncpg adapter turns asyncpg's CannotConnectNowError, AdminShutdownError,
    DeadlockDetectedError... into one generic `Error` class, keeping the original as the cause."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 8:
        e = todo.pop(0)
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [getattr(e, "orig", None), e.__cause__]
    return seen


def is_transient(exc: BaseException) -> bool:
    """Database or network unavailable, or a concurrency conflict: retry, never dead-letter."""
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | OSError | TimeoutError
                  | PoolTimeoutError):  # the last: every pooled connection busy for too long
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    for e in _causes(exc):
        if type(e).__name__ in _TRANSIENT_NAMES:
            return True
        if isinstance(e, ConnectionError | OSError | TimeoutError):
            return True
        sqlstate = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATES):
            return True
    return False


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
        parallel_partitions: int = 1,
    ) -> None:
        self.name = name
        self.schema = schema
        self.topics = list(topics)
        self.handler = handler
        self.sessions = sessions
        self.consumer_factory = consumer_factory
        self.dlt_producer = dlt_producer
        self.max_failures = max_failures
        # Partitions of one poll applied side by side, each in its own transaction (order is
        # per partition, so this keeps it): a handler that waits on the database for most of
        # its time (the payments processor) then goes several times faster.
        self.parallel_partitions = max(1, parallel_partitions)
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
                    if batches and not stop.is_set():
                        await self._process_poll(consumer, batches, stop)
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

    async def _process_poll(self, consumer: AIOKafkaConsumer,
                            batches: dict[TopicPartition, list[ConsumerRecord]],
                            stop: asyncio.Event) -> None:
        """Apply one poll's records, partitions side by side (at most `parallel_partitions`
        at once), then commit the offsets of every partition that was applied. A partition
        left unapplied (stopping while the database is away) keeps its offset: redelivered."""
        gate = asyncio.Semaphore(self.parallel_partitions)

        async def one(tp: TopicPartition, records: list[ConsumerRecord]) -> int | None:
            async with gate:
                if stop.is_set():
                    return None  # uncommitted: redelivered to whoever takes the partition
                return await self._process_partition(tp, records, stop)

        items = list(batches.items())
        outcomes = await asyncio.gather(*(one(tp, records) for tp, records in items),
                                        return_exceptions=True)
        offsets = {tp: o for (tp, _), o in zip(items, outcomes, strict=True)
                   if isinstance(o, int)}
        if offsets:
            await consumer.commit(offsets)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _process_partition(
        self,
        tp: TopicPartition,
        records: list[ConsumerRecord],
        stop: asyncio.Event,
    ) -> int | None:
        """Apply one partition's records; the offset to commit, or None to leave it."""
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
                        return None  # offsets not committed: redelivered later
                    await _sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                await self._apply_one_by_one(decoded, stop)
                break
        return int(records[-1].offset) + 1

    async def _apply(self, items: Sequence[Decoded]) -> None:
        if not items:
            return
        async with self.sessions() as session, session.begin():
            fresh = await self._claim(session, items)
            new = len(fresh)
            events = []
            for item in items:
                key = (item.event.source, item.event.id)
                if key in fresh:
                    fresh.discard(key)  # a duplicate later in the same batch is skipped
                    events.append(item.event)
            apply_all = getattr(self.handler, "apply_all", None)
            if apply_all is not None:  # a router: it sets each event's correlation id
                await apply_all(session, events)
            else:
                for event in events:
                    token = correlation_id.set(event.correlationid)
                    try:
                        await self.handler(session, event)
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
                    if isinstance(exc, ValidationError):  # its contract refuses it: for good
                        failures = self.max_failures
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
