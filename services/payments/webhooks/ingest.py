"""Durable intake of a verified notification: the raw notification, its normalized form and the
work-queue event (payments.notification.v1) in one statement, hence one transaction.

Idempotent on (channel, event_id): a replay inserts nothing and is still answered as success.
The same path takes statement lines the webhook never delivered (origin 'statement').
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.payments import NotificationReceived
from services.payments.channels import PaymentNotification
from shared.group_commit import GroupCommit
from shared.observability import correlation_id
from shared.outbox import Outbox, shard_of

S = "payments"
SOURCE = "canbao/payments"
_KEPT_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})

_OUTBOX = Outbox(S, SOURCE)
_COLUMNS = ("nid", "channel", "event_id", "origin", "headers", "body", "normalized",
            "oid", "pkey", "shard", "cid", "data")
# payments.notification.v1 (contracts.payments.NotificationReceived), by the outbox's
# INSERT ... SELECT form: one row for each notification the statement stored
_SQL = f"""
WITH n AS (
    INSERT INTO {S}.notifications (id, channel, event_id, origin, headers, body, normalized)
    VALUES (:nid, :channel, :event_id, :origin, CAST(:headers AS jsonb), :body,
            CAST(:normalized AS jsonb))
    ON CONFLICT (channel, event_id) DO NOTHING
    RETURNING id
)
{_OUTBOX.insert_select(NotificationReceived, event_id=":oid", key=":pkey", shard=":shard",
                       correlation=":cid", data=":data", source_rows="n", returning="seq")}
"""
SQLALCHEMY_SQL = text(_SQL)


def work_item(n: PaymentNotification, notification_id: uuid.UUID, origin: str) -> dict[str, Any]:
    """The payload of NotificationReceived (tests validate it against the model)."""
    return {
        "notification_id": str(notification_id), "channel": n.channel, "event_id": n.event_id,
        "kind": n.kind, "channel_txn_id": n.channel_txn_id, "order_no": n.order_no,
        "amount_fen": n.amount_fen, "paid_at": n.paid_at.isoformat(), "status": n.status,
        "origin": origin, "refunds_txn_id": n.refunds_txn_id if n.kind == "refund" else None,
    }


def _values(n: PaymentNotification, headers: Mapping[str, str], body: bytes,
            origin: str) -> dict[str, Any]:
    nid = uuid.uuid4()
    item = work_item(n, nid, origin)
    kept = {k.lower(): v for k, v in headers.items() if k.lower() not in _KEPT_HEADERS}
    return {
        "nid": nid, "channel": n.channel, "event_id": n.event_id, "origin": origin,
        "headers": orjson.dumps(kept).decode(), "body": body,
        "normalized": orjson.dumps({**item, "raw": n.raw}).decode(),
        "oid": uuid.uuid4(), "pkey": n.order_no, "shard": shard_of(n.order_no),
        "cid": correlation_id.get(), "data": orjson.dumps(item).decode(),
    }


# Webhook intake, for any number of notifications at once: one statement, one commit.
_TYPES = {"nid": "uuid", "oid": "uuid", "body": "bytea", "shard": "int"}
_UNNEST = ", ".join(f"${i + 1}::{_TYPES.get(c, 'text')}[]" for i, c in enumerate(_COLUMNS))
BATCH_SQL = f"""
WITH v AS (
    SELECT * FROM unnest({_UNNEST}) AS v({", ".join(_COLUMNS)})
), n AS (
    INSERT INTO {S}.notifications (id, channel, event_id, origin, headers, body, normalized)
    SELECT nid, channel, event_id, origin, CAST(headers AS jsonb), body, CAST(normalized AS jsonb)
    FROM v
    ON CONFLICT (channel, event_id) DO NOTHING
    RETURNING id
)
{_OUTBOX.insert_select(NotificationReceived, event_id="v.oid", key="v.pkey", shard="v.shard",
                       correlation="v.cid", data="v.data", source_rows="v JOIN n ON n.id = v.nid",
                       returning="event_id")}
"""


class Intake:
    """Webhook intake with group commit: notifications arriving together are stored by one
    statement (one transaction, one WAL flush) and each request is answered once *its* batch
    is durable. `group_commit=False` runs the statement for each request alone (the
    baseline)."""

    def __init__(self, pool: asyncpg.Pool, *, group_commit: bool = True,
                 max_batch: int = 200, max_in_flight: int = 2) -> None:
        self.pool = pool
        self.group_commit = group_commit
        self._committer: GroupCommit[dict[str, Any], bool] = GroupCommit(
            self._store_batch, max_batch=max_batch, max_in_flight=max_in_flight)

    async def store(self, n: PaymentNotification, headers: Mapping[str, str],
                    body: bytes) -> bool:
        """True if new, False if a replay of a stored notification. Durable on return."""
        values = _values(n, headers, body, "webhook")
        if not self.group_commit:
            return (await self._store_batch([values]))[0]
        return await self._committer.submit(values)

    async def _store_batch(self, rows: list[dict[str, Any]]) -> list[bool]:
        """One statement, hence one transaction, for all of `rows`."""
        columns = [[row[c] for row in rows] for c in _COLUMNS]
        async with self.pool.acquire() as conn:
            stored = {r[0] for r in await conn.fetch(BATCH_SQL, *columns)}
        # A notification twice in one batch is stored once; both are answered as success.
        return [row["oid"] in stored for row in rows]

    async def drain(self) -> None:
        await self._committer.drain()


async def store_in(session: AsyncSession, n: PaymentNotification, headers: Mapping[str, str],
                   body: bytes, origin: str) -> bool:
    """The same inside a larger transaction (reconciliation posting missed lines)."""
    values = _values(n, headers, body, origin)
    return (await session.execute(SQLALCHEMY_SQL, values)).scalar() is not None
