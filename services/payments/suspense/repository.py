"""Suspense (挂账): money we received but could not apply to an open order."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from contracts.payments import SuspensePayload
from services.payments.dues.repository import visible_person_sql
from shared.outbox import Outbox

S = "payments"
# an item names the person it came with and, once matched, the person it was matched to
_VISIBLE = (visible_person_sql(f"{S}.suspense.person_id") + " AND " + visible_person_sql(
    f"(CASE WHEN {S}.suspense.resolution ->> 'person_id' ~ '^[0-9a-fA-F-]{{36}}$' "
    f"THEN CAST({S}.suspense.resolution ->> 'person_id' AS uuid) END)"))


@dataclass
class SuspenseRow:
    id: int
    ledger_id: int | None
    channel: str
    channel_txn_id: str
    kind: str
    order_no: str | None
    person_id: uuid.UUID | None
    plan_year: int | None
    amount_fen: int
    reason: str
    detail: str | None
    status: str
    resolution: dict[str, Any] | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    revision: int = 1


_COLS = ("id, ledger_id, channel, channel_txn_id, kind, order_no, person_id, plan_year, "
         "amount_fen, reason, detail, status, resolution, created_at, resolved_at, revision")


class SuspenseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open(self, *, ledger_id: int, channel: str, channel_txn_id: str, kind: str,
                   order_no: str | None, person_id: uuid.UUID | None, plan_year: int | None,
                   amount_fen: int, reason: str, detail: str) -> SuspenseRow | None:
        row = (await self.session.execute(text(
            f"""INSERT INTO {S}.suspense (ledger_id, channel, channel_txn_id, kind, order_no,
                    person_id, plan_year, amount_fen, reason, detail)
                VALUES (:l, :c, :t, :k, :o, :p, :y, :a, :r, :d)
                ON CONFLICT (channel, channel_txn_id, kind) DO NOTHING RETURNING {_COLS}"""),
            {"l": ledger_id, "c": channel, "t": channel_txn_id, "k": kind, "o": order_no,
             "p": person_id, "y": plan_year, "a": amount_fen, "r": reason, "d": detail})).first()
        return SuspenseRow(*row) if row else None

    async def get(self, suspense_id: int, *, for_update: bool = False) -> SuspenseRow | None:
        lock = " FOR UPDATE" if for_update else ""
        row = (await self.session.execute(
            text(f"SELECT {_COLS} FROM {S}.suspense WHERE id = :id{lock}"), {"id": suspense_id}
        )).first()
        return SuspenseRow(*row) if row else None

    async def list(self, status: str | None, limit: int, after: int | None = None, *,
                   region_prefix: str | None = None) -> list[SuspenseRow]:
        """In id order, the ones after row `after` (a page's last). `region_prefix`
        (Principal.region_filter): only items whose persons (the one the money came with, the
        one it was matched to) lie in that region; items naming no person known here stay in
        every list."""
        conditions = (["status = :s"] if status else []) + \
            (["id > :after"] if after is not None else []) + \
            ([_VISIBLE] if region_prefix is not None else [])
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = (await self.session.execute(text(
            f"SELECT {_COLS} FROM {S}.suspense {where} ORDER BY id LIMIT :n"),
            {"s": status, "n": limit, "after": after, "rp": region_prefix})).all()
        return [SuspenseRow(*r) for r in rows]

    async def resolve(self, suspense_id: int, resolution: dict[str, Any]) -> SuspenseRow:
        row = (await self.session.execute(text(
            f"""UPDATE {S}.suspense SET status = 'resolved', resolved_at = now(),
                       resolution = CAST(:r AS jsonb), revision = revision + 1
                WHERE id = :id RETURNING {_COLS}"""),
            {"id": suspense_id, "r": orjson.dumps(resolution).decode()})).one()
        return SuspenseRow(*row)

    async def reopen(self, suspense_id: int, detail: str) -> SuspenseRow:
        """Open again (staff reversed the match it was resolved with); the detail says why."""
        row = (await self.session.execute(text(
            f"""UPDATE {S}.suspense SET status = 'open', resolved_at = NULL, resolution = NULL,
                       revision = revision + 1, detail = :d
                WHERE id = :id RETURNING {_COLS}"""),
            {"id": suspense_id, "d": detail})).one()
        return SuspenseRow(*row)

    async def of_ledger(self, ledger_id: int, *, for_update: bool = False) -> SuspenseRow | None:
        lock = " FOR UPDATE" if for_update else ""
        row = (await self.session.execute(
            text(f"SELECT {_COLS} FROM {S}.suspense WHERE ledger_id = :l{lock}"),
            {"l": ledger_id})).first()
        return SuspenseRow(*row) if row else None

    async def open_for_ledger(self, ledger_ids: list[int]) -> list[SuspenseRow]:
        if not ledger_ids:
            return []
        rows = (await self.session.execute(text(
            f"""SELECT {_COLS} FROM {S}.suspense WHERE ledger_id = ANY(:l) AND status = 'open'
                ORDER BY id FOR UPDATE"""), {"l": ledger_ids})).all()
        return [SuspenseRow(*r) for r in rows]


async def publish_suspense(outbox: Outbox, session: AsyncSession,
                           event_type: type[SuspensePayload],
                           row: SuspenseRow) -> None:
    """payments.suspense.v1 (opened or resolved), keyed by the person, else the order (no key
    when the money names neither)."""
    await outbox.add(session, event_type.model_validate(suspense_payload(row)),
                     subject=str(row.id))


def suspense_payload(row: SuspenseRow) -> dict[str, Any]:
    return {
        "suspense_id": row.id, "channel": row.channel, "channel_txn_id": row.channel_txn_id,
        "kind": row.kind, "order_no": row.order_no,
        "person_id": str(row.person_id) if row.person_id else None, "plan_year": row.plan_year,
        "amount_fen": row.amount_fen, "reason": row.reason, "status": row.status,
        "resolution": row.resolution, "opened_at": row.created_at.isoformat(),
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "revision": row.revision,
    }


_OPEN_BY_REASON = text(f"SELECT reason, count(*) FROM {S}.suspense WHERE status = 'open' "
                       "GROUP BY reason")


async def open_suspense_by_reason(engine: AsyncEngine) -> dict[str, int]:
    """Open suspense items per reason (the `canbao_suspense_open` metric)."""
    async with engine.connect() as conn:
        return {reason: int(n) for reason, n in (await conn.execute(_OPEN_BY_REASON)).all()}
