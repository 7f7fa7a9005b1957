"""Statements, reconciliations and their items."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.payments.statements import StatementLine

S = "payments"


class ReconciliationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, channel: str, day: dt.date) -> int | None:
        return (await self.session.execute(text(
            f"""INSERT INTO {S}.reconciliations (channel, statement_date, summary)
                VALUES (:c, :d, '{{}}') ON CONFLICT (channel, statement_date) DO NOTHING
                RETURNING id"""), {"c": channel, "d": day})).scalar()

    async def add_lines(self, rec_id: int, lines: list[StatementLine]) -> None:
        if not lines:
            return
        await self.session.execute(text(
            f"""INSERT INTO {S}.statement_lines (reconciliation_id, channel, channel_txn_id, kind,
                    order_no, amount_fen, status, occurred_at)
                VALUES (:r, :c, :t, :k, :o, :a, :s, :at) ON CONFLICT DO NOTHING"""),
            [{"r": rec_id, "c": x.channel, "t": x.channel_txn_id, "k": x.kind, "o": x.order_no,
              "a": x.amount_fen, "s": x.status, "at": x.occurred_at} for x in lines])

    async def add_items(self, rec_id: int, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        await self.session.execute(text(
            f"""INSERT INTO {S}.reconciliation_items (reconciliation_id, channel, channel_txn_id,
                    kind, order_no, result, statement_amount_fen, ledger_amount_fen, ledger_id,
                    detail, carry_status)
                VALUES (:r, :channel, :channel_txn_id, :kind, :order_no, :result,
                        :statement_amount_fen, :ledger_amount_fen, :ledger_id, :detail,
                        :carry_status)"""),
            [{"r": rec_id, "carry_status": None, **i} for i in items])

    async def pending_carried(self, channel: str, before: dt.date) -> list[dict[str, Any]]:
        rows = (await self.session.execute(text(
            f"""SELECT i.id, i.channel_txn_id, i.kind, i.order_no, i.ledger_amount_fen,
                       i.ledger_id, r.statement_date
                FROM {S}.reconciliation_items i JOIN {S}.reconciliations r
                  ON r.id = i.reconciliation_id
                WHERE i.channel = :c AND i.carry_status = 'pending' AND r.statement_date < :d
                FOR UPDATE OF i"""), {"c": channel, "d": before})).mappings().all()
        return [dict(r) for r in rows]

    async def set_carry(self, item_id: int, status: str) -> None:
        await self.session.execute(text(
            f"UPDATE {S}.reconciliation_items SET carry_status = :s WHERE id = :id"),
            {"s": status, "id": item_id})

    async def finish(self, rec_id: int, summary: dict[str, Any]) -> None:
        await self.session.execute(text(
            f"UPDATE {S}.reconciliations SET summary = CAST(:s AS jsonb) WHERE id = :id"),
            {"s": orjson.dumps(summary).decode(), "id": rec_id})

    async def get(self, rec_id: int) -> dict[str, Any] | None:
        row = (await self.session.execute(text(
            f"""SELECT id, channel, statement_date, summary, created_at
                FROM {S}.reconciliations WHERE id = :id"""), {"id": rec_id})).mappings().first()
        if row is None:
            return None
        items = (await self.session.execute(text(
            f"""SELECT channel_txn_id, kind, order_no, result, statement_amount_fen,
                       ledger_amount_fen, detail, carry_status
                FROM {S}.reconciliation_items WHERE reconciliation_id = :id ORDER BY id"""),
            {"id": rec_id})).mappings().all()
        return {**dict(row), "items": [dict(i) for i in items]}

    async def compare(self, start: dt.datetime, end: dt.datetime) -> dict[str, dict[str, Any]]:
        """Per channel: what the channels' statements say was collected (the tax side) against
        what the medical insurance ledger holds, for succeeded money in [start, end)."""
        statement = (await self.session.execute(text(
            f"""SELECT channel, kind, count(*), coalesce(sum(amount_fen), 0)
                FROM {S}.statement_lines WHERE occurred_at >= :s AND occurred_at < :e
                  AND status = 'succeeded' AND kind IN ('payment', 'refund')
                GROUP BY channel, kind"""), {"s": start, "e": end})).all()
        # Payments the channel reversed (冲正) by the end of the period are not collected money.
        ledger = (await self.session.execute(text(
            f"""SELECT channel, kind, count(*), coalesce(sum(amount_fen), 0)
                FROM {S}.ledger l WHERE occurred_at >= :s AND occurred_at < :e
                  AND kind <> 'reversal'
                  AND NOT (kind = 'payment' AND EXISTS (
                      SELECT 1 FROM {S}.ledger r WHERE r.channel = l.channel
                        AND r.kind = 'reversal' AND r.refers_to = l.channel_txn_id
                        AND r.origin <> 'staff' AND r.occurred_at < :e))
                GROUP BY channel, kind"""), {"s": start, "e": end})).all()
        out: dict[str, dict[str, Any]] = {}
        for side, rows in (("statement", statement), ("ledger", ledger)):
            for channel, kind, count, total in rows:
                entry = out.setdefault(channel, {"statement": {}, "ledger": {}})
                entry[side][kind] = {"count": count, "total_fen": int(total)}
        return out
