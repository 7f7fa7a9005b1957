"""Proxy payment batches (代缴批次) as recorded; their ledger entries are the ledger's."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

S = "payments"


class ProxyBatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def exists(self, batch_no: str) -> bool:
        return (await self.session.execute(
            text(f"SELECT 1 FROM {S}.proxy_batches WHERE batch_no = :b"), {"b": batch_no}
        )).first() is not None

    async def create(self, *, batch_no: str, budget_line: str, plan_year: int,
                     declared_count: int, declared_total_fen: int, paid_on: dt.date) -> int:
        return int((await self.session.execute(text(
            f"""INSERT INTO {S}.proxy_batches (batch_no, budget_line, plan_year, declared_count,
                    declared_total_fen, paid_on) VALUES (:b, :l, :y, :c, :t, :d) RETURNING id"""),
            {"b": batch_no, "l": budget_line, "y": plan_year, "c": declared_count,
             "t": declared_total_fen, "d": paid_on})).scalar_one())
