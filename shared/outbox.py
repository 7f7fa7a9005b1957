"""Transactional outbox: an event is written in the same transaction as the state it describes.

`Outbox` writes the rows (every form of it: one event, many, COPY, INSERT ... SELECT);
`OutboxRelay` publishes rows to Kafka afterwards. Rows are spread
over a fixed number of shards by their partition key; a relay holds a lease on the shards it
publishes, so several relays can run (one per service replica) while each key's events are still
published by one relay at a time, in order. A relay that dies loses its leases when they expire
and another takes over; rows it had published but not yet marked sent are published again, which
the consumers' inbox absorbs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import socket
import time
import uuid
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import orjson
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from contracts.base import EventModel
from shared.events import kafka_binding
from shared.kafka import key_partitions
from shared.observability import (
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PRUNED,
    OUTBOX_PUBLISHED,
    correlation_id,
)

log = logging.getLogger(__name__)

# The shard count is fixed by the outbox_lease rows the first migration created (0..15): the
# relays lease those rows, so a different count needs a migration, not a setting.
SHARDS = 16
COLUMNS = ("event_id", "topic", "partition_key", "shard", "event_type", "source", "subject",
           "correlation_id", "data")
_COPY_CHUNK = 50_000
# an event of the COPY form: its model, its payload (the model's JSON form), its partition key
Payload = tuple[type[EventModel], dict[str, Any], str | None]


# --- the shard rule -----------------------------------------------------------------------------
def shard_of(key: str | None) -> int:
    """The shard of a partition key: CRC-32 of its UTF-8 text modulo SHARDS (no key: any)."""
    if key is None:
        return int.from_bytes(os.urandom(2), "big") % SHARDS
    return zlib.crc32(key.encode()) % SHARDS


@functools.cache
def _uuid_crc_tables() -> tuple[int, np.ndarray]:
    zero = uuid.UUID(int=0)
    base = zlib.crc32(str(zero).encode())
    table = np.empty((16, 256), np.uint32)
    for pos in range(16):
        for v in range(256):
            raw = bytearray(16)
            raw[pos] = v
            table[pos, v] = zlib.crc32(str(uuid.UUID(bytes=bytes(raw))).encode()) ^ base
    return base, table


def shards_of_uuids(raw: np.ndarray) -> np.ndarray:
    """`shard_of(str(u))` for (n, 16) uuid bytes at once, without making strings (int16).

    CRC-32 is affine in the message bits, and the text of a uuid has fixed length with each
    byte in fixed places, so crc(text) = crc(text of the zero uuid) ^ the xor over the bytes of
    a per-(position, value) table."""
    base, table = _uuid_crc_tables()
    crc = np.full(raw.shape[0], base, np.uint32)
    cols = np.ascontiguousarray(raw.T)
    for pos in range(16):
        crc ^= table[pos][cols[pos]]
    return (crc % SHARDS).astype(np.int16)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Outbox:
    """Writes events for one service; call inside the transaction that changes the state.

    Every write of an outbox row goes through here, in four forms: `add` (one event model),
    `add_many` (a list of them, one statement), `copy` (COPY of payloads built elsewhere, for
    hundreds of thousands of rows) and `insert_select` (the SQL of an INSERT ... SELECT whose
    payloads the database builds, for bulk paths that never bring the rows to Python). The
    last two take the model class and trust the payloads: tests validate them against it."""

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

    def row(self, model: type[EventModel], data: dict[str, Any], key: str | None,
            subject: str | None) -> dict[str, Any]:
        """The outbox row of one payload (`data`: the model's JSON form)."""
        return {
            "event_id": uuid.uuid4(),
            "topic": model.TOPIC,
            "partition_key": key,
            "shard": shard_of(key),
            "event_type": model.TYPE,
            "source": self.source,
            "subject": subject,
            "correlation_id": correlation_id.get(),
            "data": orjson.dumps(data).decode(),
        }

    async def add(self, session: AsyncSession | AsyncConnection, event: EventModel, *,
                  subject: str | None = None) -> uuid.UUID:
        """One event; its partition key is the model's (`EventModel.key()`)."""
        row = self.row(type(event), event.wire(), event.key(), subject)
        await session.execute(self._insert, row)
        event_id: uuid.UUID = row["event_id"]
        return event_id

    async def add_many(self, session: AsyncSession | AsyncConnection,
                       events: Sequence[EventModel], *,
                       subjects: Sequence[str | None] | None = None,
                       correlations: Sequence[str | None] | None = None) -> int:
        """Several events in one statement; each one's subject is its partition key unless
        `subjects` names them, its correlation id the current one unless `correlations` does
        (events of a consumer batch, each from its own event)."""
        if not events:
            return 0
        rows = [self.row(type(e), e.wire(), e.key(), e.key()) for e in events]
        for i, row in enumerate(rows):
            if subjects is not None:
                row["subject"] = subjects[i]
            if correlations is not None:
                row["correlation_id"] = correlations[i]
        await session.execute(self._insert, rows)
        return len(rows)

    # -- COPY ----------------------------------------------------------------------------------
    def records(self, payloads: Iterable[Payload]) -> list[tuple[Any, ...]]:
        """COPY records of (model, payload, key) triples (build them off the event loop, e.g.
        in a worker thread); each one's subject is its key."""
        return [tuple(r[c] for c in COLUMNS)
                for r in (self.row(m, d, k, k) for m, d, k in payloads)]

    async def copy_records(self, pg: Any, records: Sequence[Sequence[Any]]) -> int:
        """COPY `records` on the asyncpg connection `pg`, inside its transaction."""
        if not records:
            return 0
        await pg.copy_records_to_table("outbox", schema_name=self.schema, columns=list(COLUMNS),
                                       records=records)
        return len(records)

    async def copy(self, pg: Any, payloads: Iterable[Payload], chunk: int = _COPY_CHUNK) -> int:
        """COPY (model, payload, key) triples, in their order: at a million events INSERT ...
        VALUES through executemany costs minutes, COPY seconds. The payloads are the models'
        JSON forms (`EventModel.wire()`), not validated here: tests validate them."""
        total = 0
        batch: list[Payload] = []
        for item in payloads:
            batch.append(item)
            if len(batch) >= chunk:
                total += await self.copy_records(pg, self.records(batch))
                batch = []
        if batch:
            total += await self.copy_records(pg, self.records(batch))
        return total

    # -- INSERT ... SELECT ---------------------------------------------------------------------
    def insert_select(self, model: type[EventModel], *, event_id: str, key: str, shard: str,
                      data: str, source_rows: str, subject: str | None = None,
                      correlation: str | None = None, returning: str | None = None) -> str:
        """`INSERT INTO <schema>.outbox (...) SELECT ... FROM <source_rows>`: events of `model`
        whose columns are SQL expressions over `source_rows` (a FROM clause, with its joins and
        WHERE). `shard` must be the shard rule's value for the key (`shard_of`,
        `shards_of_uuids`), computed when the rows were staged; `subject` defaults to the key;
        `correlation` (an expression, e.g. a parameter) is the correlation id, none if None.
        The topic, type and source are the model's and this outbox's."""
        values = (event_id, _sql_text(model.TOPIC), key, shard, _sql_text(model.TYPE),
                  _sql_text(self.source), subject or key, correlation or "NULL",
                  f"CAST({data} AS jsonb)")
        sql = (f"INSERT INTO {self.schema}.outbox ({', '.join(COLUMNS)})\n"
               f"SELECT {', '.join(values)}\nFROM {source_rows}")
        return sql + (f"\nRETURNING {returning}" if returning else "")


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        schema: str,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.05,
        idle_interval: float | None = None,
        lease_seconds: int = 15,
        max_backoff: float = 10.0,
        owner: str | None = None,
        retention: float | None = None,
        prune_every: float = 60.0,
        prune_batch: int = 5000,
    ) -> None:
        self.engine = engine
        self.schema = schema
        self.producer = producer
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        # an idle relay polls less and less often, up to this interval (the first event after
        # a quiet spell waits at most this long); any event brings it back to `poll_interval`
        self.idle_interval = max(poll_interval, idle_interval if idle_interval is not None
                                 else poll_interval)
        self.lease_seconds = lease_seconds
        self.max_backoff = max_backoff
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.shards: list[int] = []
        # leases are renewed (and shards rebalanced) at most this often, not on every poll: a
        # busy relay polls 20 times a second, and each renewal is a transaction of 3-4
        # statements. The lease itself lasts `lease_seconds`; renewing is due again before any
        # fetch once this much time has passed, so a stalled relay renews before it publishes.
        self.renew_every = min(1.0, lease_seconds / 3)
        self._renew_due = 0.0
        self.healthy = False
        self.published = 0
        # sent rows are deleted `retention` seconds after they were sent (None: kept), by the
        # relay that owns their shard, `prune_batch` at a time, every `prune_every` seconds
        # (at once again while whole batches go: a backlog of old rows is worked off between
        # polls, never in one long transaction)
        self.retention = retention if retention else None
        self.prune_every = prune_every
        self.prune_batch = prune_batch
        self.pruned = 0
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
        # the oldest rows of the relay's shards, those of them sent before the retention
        # period: the scan never runs past `n` rows (sent_at follows seq, so once the oldest
        # rows are younger than the period, so is the rest)
        self._prune = text(
            f"""WITH head AS (
                    SELECT seq FROM {s}.outbox WHERE shard = ANY(:shards) ORDER BY seq LIMIT :n)
                DELETE FROM {s}.outbox o USING head
                WHERE o.seq = head.seq AND o.sent_at < now() - make_interval(secs => :keep)"""
        )
        self._backlog = text(
            f"SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) "
            f"FROM {s}.outbox WHERE sent_at IS NULL")

    @functools.cached_property
    def _statements(self) -> AsyncEngine:
        """The engine for the fetch, the marks and the prune: single statements, each atomic
        on its own, run without BEGIN/ROLLBACK/COMMIT around them (two round trips fewer)."""
        return self.engine.execution_options(isolation_level="AUTOCOMMIT")

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
        now = time.monotonic()
        if now >= self._renew_due or not self.shards:
            async with self.engine.begin() as conn:
                self.shards = await self.claim_shards(conn)
            self._renew_due = now + self.renew_every
        if not self.shards:
            return 0
        async with self._statements.connect() as conn:
            rows = (await conn.execute(self._fetch, {"shards": self.shards, "n": self.batch_size})).all()
        if not rows:
            return 0
        sent, failed = await self.publish(rows)
        async with self._statements.connect() as conn:
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

    async def publish(self, rows: Sequence[Any]) -> tuple[list[int], list[tuple[int, BaseException]]]:
        """Send fetched rows: (seqs the broker acknowledged, (seq, error) of those it did not).

        Rows are put into one record batch per topic partition, in their order, and each
        batch is handed to the producer whole (`send_batch`): per message this costs an append,
        where `send` cost a future and a pass through the accumulator each. The partition is
        the producer's own rule (murmur2 of the key, as every Kafka client; computed for the
        whole fetch at once, `shared.kafka.key_partitions`), so a key's events land where any
        producer would put them; one partition's batches are sent in order."""
        by_topic: dict[str, list[Any]] = {}
        for r in rows:
            by_topic.setdefault(r.topic, []).append(r)
        groups: dict[tuple[str, int], list[Any]] = {}
        for topic, members in by_topic.items():
            known = sorted(await self.producer.partitions_for(topic))
            keyed = [r for r in members if r.partition_key]
            chosen = dict(zip((r.seq for r in keyed), key_partitions(
                [r.partition_key.encode() for r in keyed], len(known)).tolist(), strict=True))
            for r in members:
                index = chosen.get(r.seq)
                partition = known[index] if index is not None else known[r.seq % len(known)]
                groups.setdefault((topic, partition), []).append(r)
        pending: list[tuple[list[int], Any]] = []
        for (topic, partition), members in groups.items():
            batch = self.producer.create_batch()
            seqs: list[int] = []
            for r in members:
                key, headers = kafka_binding(
                    id=str(r.event_id), source=r.source, type=r.event_type, time=r.created_at,
                    subject=r.subject, partitionkey=r.partition_key,
                    correlationid=r.correlation_id)
                value = r.data.encode()
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    pending.append((seqs, await self.producer.send_batch(
                        batch, topic, partition=partition)))
                    batch, seqs = self.producer.create_batch(), []
                    if batch.append(key=key, value=value, timestamp=None,
                                    headers=headers) is None:  # larger than a whole batch
                        raise RuntimeError(f"outbox event {r.seq} is too large to publish")
                seqs.append(r.seq)
            pending.append((seqs, await self.producer.send_batch(batch, topic,
                                                                 partition=partition)))
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        sent: list[int] = []
        failed: list[tuple[int, BaseException]] = []
        for (seqs, _), res in zip(pending, results, strict=True):
            if isinstance(res, BaseException):
                failed += [(seq, res) for seq in seqs]
            else:
                sent += seqs
        return sent, failed

    async def prune_once(self) -> int:
        """Delete up to `prune_batch` rows of this relay's shards sent more than `retention`
        seconds ago (unsent rows are never touched); how many."""
        if self.retention is None or not self.shards:
            return 0
        async with self._statements.connect() as conn:
            result = await conn.execute(self._prune, {"shards": self.shards,
                                                      "n": self.prune_batch,
                                                      "keep": self.retention})
        pruned = int(result.rowcount or 0)
        self.pruned += pruned
        OUTBOX_PRUNED.labels(self.schema).inc(pruned)
        return pruned

    async def backlog(self) -> int:
        async with self.engine.connect() as conn:
            n, age = (await conn.execute(self._backlog)).one()
        n = int(n)
        OUTBOX_BACKLOG.labels(self.schema).set(n)
        OUTBOX_OLDEST_AGE.labels(self.schema).set(float(age))
        return n

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        wait = self.poll_interval
        last_backlog_check = 0.0
        loop = asyncio.get_running_loop()
        prune_due = loop.time() + self.prune_every
        while not stop.is_set():
            try:
                # before publishing: a row the broker keeps refusing must not stop the pruning
                if self.retention is not None and loop.time() >= prune_due:
                    full = await self.prune_once() >= self.prune_batch
                    prune_due = loop.time() + (0 if full else self.prune_every)
                n = await self.run_once()
                self.healthy = True
                backoff = 0.2
                if loop.time() - last_backlog_check > 5:
                    last_backlog_check = loop.time()
                    await self.backlog()
                wait = self.next_wait(wait, n)
                if n < self.batch_size:
                    await _sleep_or_stop(stop, wait if self.shards else self.lease_seconds / 3)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: back off and try again
                self.healthy = False
                log.warning("outbox relay %s: %s; retrying in %.1fs", self.schema, exc, backoff)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, self.max_backoff)
        await self.drain()
        await self.release()

    def next_wait(self, wait: float, published: int) -> float:
        """The pause before the next poll: `poll_interval` after a poll that found events,
        twice the last pause (up to `idle_interval`) after one that found none."""
        if published:
            return self.poll_interval
        return min(wait * 2, self.idle_interval)

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
