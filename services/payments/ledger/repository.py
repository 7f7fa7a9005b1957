"""The ledger: every money movement once, keyed by (channel, channel_txn_id, kind)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

S = "payments"


@dataclass
class LedgerRow:
    id: int
    channel: str
    channel_txn_id: str
    kind: str
    order_no: str | None
    person_id: uuid.UUID | None
    plan_year: int | None
    payer: str
    amount_fen: int
    occurred_at: dt.datetime
    coverage_start: dt.date | None
    outcome: str
    origin: str


_COLS = ("id, channel, channel_txn_id, kind, order_no, person_id, plan_year, payer, amount_fen, "
         "occurred_at, coverage_start, outcome, origin")


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self, *, channel: str, channel_txn_id: str, kind: str, order_no: str | None,
        amount_fen: int, occurred_at: dt.datetime, origin: str = "webhook",
        person_id: uuid.UUID | None = None, plan_year: int | None = None,
        payer: str = "person", coverage_start: dt.date | None = None,
        notification_id: uuid.UUID | None = None, outcome: str = "applied",
    ) -> int | None:
        """The new entry's id, or None when (channel, channel_txn_id, kind) is already booked."""
        return (await self.session.execute(text(
            f"""INSERT INTO {S}.ledger (channel, channel_txn_id, kind, order_no, person_id,
                    plan_year, payer, amount_fen, occurred_at, coverage_start, outcome, origin,
                    notification_id)
                VALUES (:channel, :txn, :kind, :order_no, :person_id, :plan_year, :payer,
                        :amount, :at, :cs, :outcome, :origin, :nid)
                ON CONFLICT (channel, channel_txn_id, kind) DO NOTHING RETURNING id"""),
            {"channel": channel, "txn": channel_txn_id, "kind": kind, "order_no": order_no,
             "person_id": person_id, "plan_year": plan_year, "payer": payer,
             "amount": amount_fen, "at": occurred_at, "cs": coverage_start, "outcome": outcome,
             "origin": origin, "nid": notification_id})).scalar()

    async def update(self, entry_id: int, *, outcome: str, person_id: uuid.UUID | None,
                     plan_year: int | None, coverage_start: dt.date | None = None,
                     order_no: str | None = None) -> None:
        await self.session.execute(text(
            f"""UPDATE {S}.ledger SET outcome = :outcome, person_id = :p, plan_year = :y,
                       coverage_start = :cs, order_no = coalesce(:o, order_no)
                WHERE id = :id"""),
            {"id": entry_id, "outcome": outcome, "p": person_id, "y": plan_year,
             "cs": coverage_start, "o": order_no})

    async def for_day(self, channel: str, start: dt.datetime, end: dt.datetime) -> list[LedgerRow]:
        rows = (await self.session.execute(text(
            f"""SELECT {_COLS} FROM {S}.ledger WHERE channel = :c
                AND occurred_at >= :s AND occurred_at < :e AND kind IN ('payment', 'refund')"""),
            {"c": channel, "s": start, "e": end})).all()
        return [LedgerRow(*r) for r in rows]

    async def by_keys(self, channel: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str],
                                                                               LedgerRow]:
        if not keys:
            return {}
        rows = (await self.session.execute(text(
            f"""SELECT {_COLS} FROM {S}.ledger l
                JOIN unnest(CAST(:txns AS text[]), CAST(:kinds AS text[])) AS k(t, kd)
                  ON l.channel_txn_id = k.t AND l.kind = k.kd
                WHERE l.channel = :c"""),
            {"c": channel, "txns": [k[0] for k in keys], "kinds": [k[1] for k in keys]})).all()
        return {(r[2], r[3]): LedgerRow(*r) for r in rows}
