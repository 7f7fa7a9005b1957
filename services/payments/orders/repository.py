"""Orders: one open or paid order per person and year; status only moves forward
(open -> paid -> refunded, paid -> reversed, open -> closed). After a refund or a reversal the
person may owe again: a new order is issued for the same person and year."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.payments.dues.repository import SELECT_DUE, DueRow

S = "payments"


def new_order_no(plan_year: int) -> str:
    """'CB2025' + 20 hex digits: 26 characters, within WeChat's 32 and Alipay's 64."""
    return f"CB{plan_year}{os.urandom(10).hex().upper()}"


@dataclass
class OrderRow:
    order_no: str
    person_id: uuid.UUID
    plan_year: int
    amount_fen: int
    due_revision: int
    status: str
    channel: str | None
    channel_txn_id: str | None
    coverage_start: dt.date | None
    paid_at: dt.datetime | None
    coverage_basis: dict[str, Any] | None = None
    timing: str | None = None  # on_time | late: what the payment that paid it settled


_COLS = ("order_no, person_id, plan_year, amount_fen, due_revision, status, channel, "
         "channel_txn_id, coverage_start, paid_at, coverage_basis, timing")


_GET = {lock: text(f"SELECT {_COLS} FROM {S}.orders WHERE order_no = :o{lock}")
        for lock in ("", " FOR UPDATE")}
# an order, locked, with its person's due (what a payment of it is priced by) in one round trip
_OCOLS = ", ".join("o." + c.strip() for c in _COLS.split(","))
_WITH_DUE = f"""SELECT {_OCOLS}, due.* FROM {S}.orders o
    LEFT JOIN LATERAL ({SELECT_DUE} WHERE d.person_id = o.person_id
                       AND d.plan_year = o.plan_year) due ON true"""
_GET_WITH_DUE = text(f"{_WITH_DUE} WHERE o.order_no = :o FOR UPDATE OF o")
_GET_MANY_WITH_DUE = text(f"""{_WITH_DUE} WHERE o.order_no = ANY(CAST(:os AS text[]))
    ORDER BY o.order_no FOR UPDATE OF o""")
_ORDER_FIELDS = len(_COLS.split(","))


def _order_and_due(row: Any) -> tuple[OrderRow, DueRow | None]:
    """An order row followed by its due's columns (all NULL without a determination)."""
    due = row[_ORDER_FIELDS:]
    return OrderRow(*row[:_ORDER_FIELDS]), DueRow(*due) if due[0] is not None else None
_MARK_PAID = text(
    f"""UPDATE {S}.orders SET status = 'paid', channel = :c, channel_txn_id = :t,
               paid_at = :at, coverage_start = :cs,
               coverage_basis = CAST(:basis AS jsonb),
               amount_fen = coalesce(:amount, amount_fen), timing = :timing,
               updated_at = now()
        WHERE order_no = :o AND status = 'open'""")


class OrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, order_no: str, *, for_update: bool = False) -> OrderRow | None:
        row = (await self.session.execute(
            _GET[" FOR UPDATE" if for_update else ""], {"o": order_no})).first()
        return OrderRow(*row) if row else None

    async def get_with_due(self, order_no: str) -> tuple[OrderRow | None, DueRow | None]:
        """The order, locked for the transaction, and its person's due for the order's year
        (None without a determination); (None, None) without the order."""
        row = (await self.session.execute(_GET_WITH_DUE, {"o": order_no})).first()
        return (None, None) if row is None else _order_and_due(row)

    async def get_many_with_dues(self, order_nos: list[str]
                                 ) -> dict[str, tuple[OrderRow, DueRow | None]]:
        """`get_with_due` of several orders in one statement, locked in order-number order;
        orders that do not exist are left out."""
        rows = (await self.session.execute(_GET_MANY_WITH_DUE, {"os": sorted(order_nos)})).all()
        return {row[0]: _order_and_due(row) for row in rows}

    async def live(self, person_id: uuid.UUID, plan_year: int) -> OrderRow | None:
        row = (await self.session.execute(text(
            f"""SELECT {_COLS} FROM {S}.orders WHERE person_id = :p AND plan_year = :y
                AND status IN ('open', 'paid') FOR UPDATE"""), {"p": person_id, "y": plan_year}
        )).first()
        return OrderRow(*row) if row else None

    async def issue(self, person_id: uuid.UUID, plan_year: int, amount_fen: int,
                    due_revision: int) -> None:
        """Open an order unless one is already open or paid (the partial unique index)."""
        await self.session.execute(text(
            f"""INSERT INTO {S}.orders (order_no, person_id, plan_year, amount_fen, due_revision,
                                       status)
                VALUES (:o, :p, :y, :a, :r, 'open')
                ON CONFLICT (person_id, plan_year) WHERE status IN ('open', 'paid') DO NOTHING"""),
            {"o": new_order_no(plan_year), "p": person_id, "y": plan_year, "a": amount_fen,
             "r": due_revision})

    async def close(self, order_no: str) -> bool:
        result = await self.session.execute(text(
            f"""UPDATE {S}.orders SET status = 'closed', updated_at = now()
                WHERE order_no = :o AND status = 'open'"""), {"o": order_no})
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def mark_paid(self, order_no: str, channel: str, channel_txn_id: str,
                        paid_at: dt.datetime, coverage_start: dt.date | None,
                        coverage_basis: dict[str, Any] | None = None, *,
                        amount_fen: int | None = None, timing: str | None = None) -> bool:
        """Open -> paid. `amount_fen`: what was paid (what was owed at the payment's date,
        which may differ from what the order was issued for); `timing`: on_time or late."""
        result = await self.session.execute(_MARK_PAID, self.paid_params(
            order_no, channel, channel_txn_id, paid_at, coverage_start, coverage_basis,
            amount_fen=amount_fen, timing=timing))
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def mark_paid_many(self, rows: list[dict[str, Any]]) -> None:
        """`mark_paid` of several orders (`paid_params` each), one pipelined statement."""
        if rows:
            await self.session.execute(_MARK_PAID, rows)

    @staticmethod
    def paid_params(order_no: str, channel: str, channel_txn_id: str, paid_at: dt.datetime,
                    coverage_start: dt.date | None,
                    coverage_basis: dict[str, Any] | None = None, *,
                    amount_fen: int | None = None, timing: str | None = None
                    ) -> dict[str, Any]:
        return {"o": order_no, "c": channel, "t": channel_txn_id, "at": paid_at,
                "cs": coverage_start, "amount": amount_fen, "timing": timing,
                "basis": orjson.dumps(coverage_basis).decode() if coverage_basis else None}

    async def mark_reversed(self, order_no: str) -> bool:
        result = await self.session.execute(text(
            f"""UPDATE {S}.orders SET status = 'reversed', updated_at = now()
                WHERE order_no = :o AND status = 'paid'"""), {"o": order_no})
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def paid_with(self, channel: str, channel_txn_id: str, *,
                        for_update: bool = False) -> OrderRow | None:
        """The order this money paid, the one still paid first (a payment matched by staff
        pays another order than the one it named; a reversed match leaves the old order)."""
        lock = " FOR UPDATE" if for_update else ""
        row = (await self.session.execute(text(
            f"""SELECT {_COLS} FROM {S}.orders WHERE channel = :c AND channel_txn_id = :t
                ORDER BY status = 'paid' DESC, updated_at DESC LIMIT 1{lock}"""),
            {"c": channel, "t": channel_txn_id})).first()
        return OrderRow(*row) if row else None

    async def mark_refunded(self, order_no: str) -> bool:
        result = await self.session.execute(text(
            f"""UPDATE {S}.orders SET status = 'refunded', updated_at = now()
                WHERE order_no = :o AND status = 'paid'"""), {"o": order_no})
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def paid_for(self, person_id: uuid.UUID, plan_year: int) -> OrderRow | None:
        row = (await self.session.execute(text(
            f"""SELECT {_COLS} FROM {S}.orders WHERE person_id = :p AND plan_year = :y
                AND status = 'paid'"""), {"p": person_id, "y": plan_year})).first()
        return OrderRow(*row) if row else None
