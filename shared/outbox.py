"""Transactional outbox: an event is written in the same transaction as the state it describes.

`add_event` inserts the row; `OutboxRelay` publishes rows to Kafka afterwards. Rows are spread
over a fixed number of shards by their partition key; a relay holds a lease on the shards it
publishes, so several relays can run (one per service replica) while each key's events are still
published by one relay at a time, in order. A relay that dies loses its leases when they expire
and another takes over; rows it had published but not yet marked sent are published again, which
the consumers' inbox absorbs.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import uuid
import zlib
from collections.abc import Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared.events import CloudEvent
from shared.observability import (
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PUBLISHED,
    correlation_id,
)

log = logging.getLogger(__name__)

SHARDS = 16


def create_tables_sql(schema: str) -> list[str]:
    """DDL for the outbox, its leases and the inbox; each service's first migration runs it."""
    return [
        f"""
        CREATE TABLE {schema}.outbox (
            seq bigserial PRIMARY KEY,
            event_id uuid NOT NULL UNIQUE,
            topic text NOT NULL,
            partition_key text,
            shard smallint NOT NULL,
            event_type text NOT NULL,
            source text NOT NULL,
            subject text,
            correlation_id text,
            data jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempts integer NOT NULL DEFAULT 0,
            last_error text,
            sent_at timestamptz
        )""",
        f"CREATE INDEX outbox_unsent ON {schema}.outbox (seq) WHERE sent_at IS NULL",
        f"""
        CREATE TABLE {schema}.outbox_lease (
            shard smallint PRIMARY KEY,
            owner text,
            lease_until timestamptz NOT NULL DEFAULT '-infinity'
        )""",
        f"INSERT INTO {schema}.outbox_lease (shard) SELECT generate_series(0, {SHARDS - 1})",
        f"""
        CREATE TABLE {schema}.outbox_relay (
            owner text PRIMARY KEY,
            seen_until timestamptz NOT NULL
        )""",
        f"""
        CREATE TABLE {schema}.inbox (
            consumer text NOT NULL,
            source text NOT NULL,
            event_id text NOT NULL,
            event_type text NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, source, event_id)
        )""",
    ]


def shard_of(key: str | None) -> int:
    if key is None:
        return int.from_bytes(os.urandom(2), "big") % SHARDS
    return zlib.crc32(key.encode()) % SHARDS


def _row(schema_source: str, topic: str, event_type: str, data: dict[str, Any],
         key: str | None, subject: str | None) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "topic": topic,
        "partition_key": key,
        "shard": shard_of(key),
        "event_type": event_type,
        "source": schema_source,
        "subject": subject,
        "correlation_id": correlation_id.get(),
        "data": orjson.dumps(data).decode(),
    }


class Outbox:
    """Writes events for one service; call inside the transaction that changes the state."""

    def __init__(self, schema: str, source: str | None = None) -> None:
        self.schema = schema
        self.source = source or f"canbao/{schema}"
        self._insert = text(
            f"""INSERT INTO {schema}.outbox
                (event_id, topic, partition_key, shard, event_type, source, subject,
                 correlation_id, data)
                VALUES (:event_id, :topic, :partition_key, :shard, :event_type, :source,
                        :subject, :correlation_id, CAST(:data AS jsonb))"""
        )

    async def add(
        self,
        session: AsyncSession | AsyncConnection,
        *,
        topic: str,
        event_type: str,
        data: dict[str, Any],
        key: str | None,
        subject: str | None = None,
    ) -> uuid.UUID:
        row = _row(self.source, topic, event_type, data, key, subject)
        await session.execute(self._insert, row)
        return row["event_id"]

    async def add_many(
        self,
        session: AsyncSession | AsyncConnection,
        events: Sequence[tuple[str, str, dict[str, Any], str | None]],
    ) -> int:
        """Bulk insert of (topic, event_type, data, key) tuples."""
        if not events:
            return 0
        rows = [_row(self.source, t, et, d, k, k) for t, et, d, k in events]
        await session.execute(self._insert, rows)
        return len(rows)


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        schema: str,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.05,
        lease_seconds: int = 15,
        max_backoff: float = 10.0,
        owner: str | None = None,
    ) -> None:
        self.engine = engine
        self.schema = schema
        self.producer = producer
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self.max_backoff = max_backoff
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.shards: list[int] = []
        self.healthy = False
        self.published = 0
        s = schema
        self._heartbeat = text(
            f"""INSERT INTO {s}.outbox_relay (owner, seen_until)
                VALUES (:me, now() + make_interval(secs => :ttl))
                ON CONFLICT (owner) DO UPDATE SET seen_until = EXCLUDED.seen_until"""
        )
        self._live = text(f"SELECT count(*) FROM {s}.outbox_relay WHERE seen_until > now()")
        self._renew = text(
            f"""UPDATE {s}.outbox_lease SET lease_until = now() + make_interval(secs => :ttl)
                WHERE owner = :me AND lease_until > now() RETURNING shard"""
        )
        self._claim = text(
            f"""UPDATE {s}.outbox_lease SET owner = :me,
                       lease_until = now() + make_interval(secs => :ttl)
                WHERE shard IN (SELECT shard FROM {s}.outbox_lease
                                WHERE lease_until <= now() ORDER BY shard
                                LIMIT :n FOR UPDATE SKIP LOCKED)
                RETURNING shard"""
        )
        self._release = text(
            f"""UPDATE {s}.outbox_lease SET lease_until = '-infinity'
                WHERE owner = :me AND shard = ANY(:shards)"""
        )
        self._fetch = text(
            f"""SELECT seq, event_id, topic, partition_key, event_type, source, subject,
                       correlation_id, data::text AS data, created_at
                FROM {s}.outbox WHERE sent_at IS NULL AND shard = ANY(:shards)
                ORDER BY seq LIMIT :n"""
        )
        self._mark_sent = text(f"UPDATE {s}.outbox SET sent_at = now() WHERE seq = ANY(:seqs)")
        self._mark_failed = text(
            f"""UPDATE {s}.outbox SET attempts = attempts + 1, last_error = :err
                WHERE seq = ANY(:seqs)"""
        )
        self._backlog = text(
            f"SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) "
            f"FROM {s}.outbox WHERE sent_at IS NULL")

    async def claim_shards(self, conn: AsyncConnection) -> list[int]:
        ttl = self.lease_seconds
        await conn.execute(self._heartbeat, {"me": self.owner, "ttl": ttl * 2})
        live = max(1, (await conn.execute(self._live)).scalar_one())
        target = math.ceil(SHARDS / live)
        owned = sorted(r[0] for r in await conn.execute(self._renew, {"me": self.owner, "ttl": ttl}))
        if len(owned) > target:
            extra = owned[target:]
            await conn.execute(self._release, {"me": self.owner, "shards": extra})
            owned = owned[:target]
        elif len(owned) < target:
            got = await conn.execute(
                self._claim, {"me": self.owner, "ttl": ttl, "n": target - len(owned)}
            )
            owned = sorted(owned + [r[0] for r in got])
        return owned

    async def run_once(self) -> int:
        """Publish one batch; return how many events were published."""
        async with self.engine.begin() as conn:
            self.shards = await self.claim_shards(conn)
        if not self.shards:
            return 0
        async with self.engine.connect() as conn:
            rows = (await conn.execute(self._fetch, {"shards": self.shards, "n": self.batch_size})).all()
        if not rows:
            return 0
        futures = []
        for r in rows:
            event = CloudEvent(
                id=str(r.event_id),
                source=r.source,
                type=r.event_type,
                time=r.created_at,
                subject=r.subject,
                partitionkey=r.partition_key,
                correlationid=r.correlation_id,
                data={},
            )
            key, _, headers = event.to_kafka()
            futures.append(
                await self.producer.send(r.topic, value=r.data.encode(), key=key, headers=headers)
            )
        results = await asyncio.gather(*futures, return_exceptions=True)
        sent = [r.seq for r, res in zip(rows, results, strict=True) if not isinstance(res, BaseException)]
        failed = [(r.seq, res) for r, res in zip(rows, results, strict=True) if isinstance(res, BaseException)]
        async with self.engine.begin() as conn:
            if sent:
                await conn.execute(self._mark_sent, {"seqs": sent})
            if failed:
                await conn.execute(
                    self._mark_failed, {"seqs": [s for s, _ in failed], "err": repr(failed[0][1])[:500]}
                )
        self.published += len(sent)
        OUTBOX_PUBLISHED.labels(self.schema).inc(len(sent))
        if failed:
            raise RuntimeError(f"{len(failed)} events not published: {failed[0][1]!r}")
        return len(sent)

    async def backlog(self) -> int:
        async with self.engine.connect() as conn:
            n, age = (await conn.execute(self._backlog)).one()
        n = int(n)
        OUTBOX_BACKLOG.labels(self.schema).set(n)
        OUTBOX_OLDEST_AGE.labels(self.schema).set(float(age))
        return n

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        last_backlog_check = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                n = await self.run_once()
                self.healthy = True
                backoff = 0.2
                if loop.time() - last_backlog_check > 5:
                    last_backlog_check = loop.time()
                    await self.backlog()
                if n < self.batch_size:
                    await _sleep_or_stop(stop, self.poll_interval if self.shards else self.lease_seconds / 3)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: back off and try again
                self.healthy = False
                log.warning("outbox relay %s: %s; retrying in %.1fs", self.schema, exc, backoff)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, self.max_backoff)
        await self.drain()
        await self.release()

    async def drain(self, seconds: float = 5.0) -> int:
        """At shutdown: publish what is still unsent in this relay's shards (what the last
        requests and consumer batches wrote since the last poll), for at most `seconds`.
        Skipped while the broker or the database is away: the rows wait for the next relay."""
        if not self.healthy:
            return 0
        published = 0
        try:
            async with asyncio.timeout(seconds):
                while n := await self.run_once():
                    published += n
        except Exception as exc:  # timeout, broker or database gone meanwhile
            log.info("outbox relay %s: stopped draining: %r", self.schema, exc)
        return published

    async def release(self) -> None:
        """Give the leases back at shutdown so another relay takes over at once."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    text(f"UPDATE {self.schema}.outbox_lease SET lease_until = '-infinity' WHERE owner = :me"),
                    {"me": self.owner},
                )
                await conn.execute(
                    text(f"DELETE FROM {self.schema}.outbox_relay WHERE owner = :me"), {"me": self.owner}
                )
        except Exception as exc:
            log.info("outbox relay %s: could not release leases: %s", self.schema, exc)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
