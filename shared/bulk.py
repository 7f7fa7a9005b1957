"""Bulk writes for imports of hundreds of thousands of rows: COPY instead of INSERT.

`copy_events` writes outbox rows with COPY (the same rows `Outbox.add_many` writes, built by
the same function), inside the caller's transaction; at a million events INSERT ... VALUES
through executemany costs minutes, COPY seconds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.outbox import Outbox, _row

OUTBOX_COLUMNS = ("event_id", "topic", "partition_key", "shard", "event_type", "source",
                  "subject", "correlation_id", "data")


async def driver_connection(session: AsyncSession | AsyncConnection) -> Any:
    """The asyncpg connection under a SQLAlchemy session, in the session's transaction."""
    conn = await session.connection() if isinstance(session, AsyncSession) else session
    raw = await conn.get_raw_connection()
    return raw.driver_connection


def outbox_records(outbox: Outbox,
                   events: Iterable[tuple[str, str, dict[str, Any], str | None]]) -> list[tuple[Any, ...]]:
    """Outbox rows as COPY records (build them off the event loop, e.g. in a worker thread)."""
    return [tuple(r[c] for c in OUTBOX_COLUMNS)
            for r in (_row(outbox.source, t, et, d, k, k) for t, et, d, k in events)]


async def copy_outbox_records(pg: Any, outbox: Outbox, records: list[Sequence[Any]]) -> int:
    return await _copy(pg, outbox, records) if records else 0


async def copy_events(
    pg: Any, outbox: Outbox, events: Iterable[tuple[str, str, dict[str, Any], str | None]],
    chunk: int = 50_000,
) -> int:
    """COPY (topic, event_type, data, key) tuples into the outbox on asyncpg connection `pg`."""
    total = 0
    batch: list[Sequence[Any]] = []
    for topic, event_type, data, key in events:
        r = _row(outbox.source, topic, event_type, data, key, key)
        batch.append(tuple(r[c] for c in OUTBOX_COLUMNS))
        if len(batch) >= chunk:
            total += await _copy(pg, outbox, batch)
            batch = []
    if batch:
        total += await _copy(pg, outbox, batch)
    return total


async def _copy(pg: Any, outbox: Outbox, records: list[Sequence[Any]]) -> int:
    await pg.copy_records_to_table("outbox", schema_name=outbox.schema,
                                   columns=list(OUTBOX_COLUMNS), records=records)
    return len(records)
