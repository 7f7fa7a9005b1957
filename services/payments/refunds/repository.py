"""Refunds due after a determination changed once the person had paid (eligibility's
adjustment_due), tracked until the money is back."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.payments.dues.repository import visible_person_sql

S = "payments"


@dataclass
class RefundRow:
    id: int
    person_id: uuid.UUID
    plan_year: int
    due_revision: int
    order_no: str | None
    paid_fen: int
    amount_fen: int
    reason: str
    status: str
    reference: str | None
    created_at: dt.datetime
    completed_at: dt.datetime | None


_COLS = ("id, person_id, plan_year, due_revision, order_no, paid_fen, amount_fen, reason, "
         "status, reference, created_at, completed_at")


class RefundRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_due(self, *, person_id: uuid.UUID, plan_year: int, due_revision: int,
                      order_no: str | None, paid_fen: int, amount_fen: int, reason: str) -> None:
        await self.session.execute(text(
            f"""INSERT INTO {S}.refunds (person_id, plan_year, due_revision, order_no, paid_fen,
                    amount_fen, reason)
                VALUES (:p, :y, :r, :o, :paid, :a, :why)
                ON CONFLICT (person_id, plan_year, due_revision) DO NOTHING"""),
            {"p": person_id, "y": plan_year, "r": due_revision, "o": order_no, "paid": paid_fen,
             "a": amount_fen, "why": reason})

    async def list(self, status: str | None, limit: int, after: int | None = None, *,
                   region_prefix: str | None = None) -> list[RefundRow]:
        """In id order, the ones after row `after` (a page's last). `region_prefix`
        (Principal.region_filter): only refunds of people in that region."""
        conditions = (["status = :s"] if status else []) + \
            (["id > :after"] if after is not None else []) + \
            ([visible_person_sql(f"{S}.refunds.person_id")] if region_prefix is not None else [])
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = (await self.session.execute(text(
            f"SELECT {_COLS} FROM {S}.refunds {where} ORDER BY id LIMIT :n"),
            {"s": status, "n": limit, "after": after, "rp": region_prefix})).all()
        return [RefundRow(*r) for r in rows]

    async def get(self, refund_id: int, *, for_update: bool = False) -> RefundRow | None:
        lock = " FOR UPDATE" if for_update else ""
        row = (await self.session.execute(
            text(f"SELECT {_COLS} FROM {S}.refunds WHERE id = :id{lock}"), {"id": refund_id}
        )).first()
        return RefundRow(*row) if row else None

    async def complete(self, refund_id: int, reference: str) -> RefundRow:
        row = (await self.session.execute(text(
            f"""UPDATE {S}.refunds SET status = 'completed', completed_at = now(),
                       reference = :ref WHERE id = :id RETURNING {_COLS}"""),
            {"id": refund_id, "ref": reference})).one()
        return RefundRow(*row)
