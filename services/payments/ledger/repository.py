"""The ledger: every money movement once, keyed by (channel, channel_txn_id, kind).

Refunds and reversals also name the payment they give back (`refers_to`, the payment's channel
transaction id), so that the refunds of one payment can be summed and a reversal finds its
payment.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
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
    refers_to: str | None = None
    reversed: bool = False  # for_day: a payment reversed by the end of that day


_COLS = ("id, channel, channel_txn_id, kind, order_no, person_id, plan_year, payer, amount_fen, "
         "occurred_at, coverage_start, outcome, origin, refers_to")
_LCOLS = ", ".join(f"l.{c.strip()}" for c in _COLS.split(","))

# the statements of every payment matched, made once (text() parses its SQL for parameters)
_INSERT = f"""INSERT INTO {S}.ledger (channel, channel_txn_id, kind, order_no, person_id,
                    plan_year, payer, amount_fen, occurred_at, coverage_start, outcome, origin,
                    notification_id, refers_to, coverage_basis, timing)
                VALUES (:channel, :txn, :kind, :order_no, :person_id, :plan_year, :payer,
                        :amount, :at, :cs, :outcome, :origin, :nid, :refers_to,
                        CAST(:basis AS jsonb), :timing)
                ON CONFLICT (channel, channel_txn_id, kind) DO NOTHING RETURNING id"""
_RECORD = text(_INSERT)
# a payment's entry and, read after the caller's lock on the payment (a statement of its own:
# this one's snapshot is taken after it), whether the channel already reversed it
_RECORD_PAYMENT = text(_INSERT + f""", EXISTS (SELECT FROM {S}.ledger r
                    WHERE r.channel = :channel AND r.channel_txn_id = :txn
                      AND r.kind = 'reversal') AS reversed""")
_UPDATE = text(f"""UPDATE {S}.ledger SET outcome = :outcome, person_id = :p, plan_year = :y,
                       coverage_start = :cs, order_no = coalesce(:o, order_no),
                       coverage_basis = coalesce(CAST(:basis AS jsonb), coverage_basis),
                       timing = coalesce(:timing, timing)
                WHERE id = :id""")
_GET = {lock: text(f"""SELECT {_COLS} FROM {S}.ledger
                WHERE channel = :c AND channel_txn_id = :t AND kind = :k{lock}""")
        for lock in ("", " FOR UPDATE")}
_LOCK_PAYMENT = text("SELECT pg_advisory_xact_lock(hashtext('payments:txn'), hashtext(:k))")
# the same locks of several payments, taken in the order given (unnest keeps it)
_LOCK_PAYMENTS = text("""SELECT count(pg_advisory_xact_lock(hashtext('payments:txn'),
                                                         hashtext(k)))
                         FROM unnest(CAST(:ks AS text[])) AS k""")
# webhook payments of a consumer batch, booked by one statement (read after their locks, so a
# reversal committed meanwhile is seen): each new entry's key, id and whether it was reversed
_RECORD_PAYMENTS = text(f"""INSERT INTO {S}.ledger AS l (channel, channel_txn_id, kind,
                    order_no, payer, amount_fen, occurred_at, outcome, origin, notification_id)
                SELECT c, t, 'payment', o, 'person', a, at, 'applied', origin, nid
                FROM unnest(CAST(:c AS text[]), CAST(:t AS text[]), CAST(:o AS text[]),
                            CAST(:a AS bigint[]), CAST(:at AS timestamptz[]),
                            CAST(:origin AS text[]), CAST(:nid AS uuid[]))
                     AS v(c, t, o, a, at, origin, nid)
                ON CONFLICT (channel, channel_txn_id, kind) DO NOTHING
                RETURNING l.channel, l.channel_txn_id, l.id, EXISTS (SELECT FROM {S}.ledger r
                    WHERE r.channel = l.channel AND r.channel_txn_id = l.channel_txn_id
                      AND r.kind = 'reversal') AS reversed""")


def _record_params(channel: str, channel_txn_id: str, kind: str, order_no: str | None,
                   amount_fen: int, occurred_at: dt.datetime, origin: str,
                   person_id: uuid.UUID | None, plan_year: int | None, payer: str,
                   coverage_start: dt.date | None, notification_id: uuid.UUID | None,
                   outcome: str, refers_to: str | None, coverage_basis: dict[str, Any] | None,
                   timing: str | None) -> dict[str, Any]:
    return {"channel": channel, "txn": channel_txn_id, "kind": kind, "order_no": order_no,
            "person_id": person_id, "plan_year": plan_year, "payer": payer,
            "amount": amount_fen, "at": occurred_at, "cs": coverage_start, "outcome": outcome,
            "origin": origin, "nid": notification_id, "refers_to": refers_to,
            "timing": timing,
            "basis": orjson.dumps(coverage_basis).decode() if coverage_basis else None}


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self, *, channel: str, channel_txn_id: str, kind: str, order_no: str | None,
        amount_fen: int, occurred_at: dt.datetime, origin: str = "webhook",
        person_id: uuid.UUID | None = None, plan_year: int | None = None,
        payer: str = "person", coverage_start: dt.date | None = None,
        notification_id: uuid.UUID | None = None, outcome: str = "applied",
        refers_to: str | None = None, coverage_basis: dict[str, Any] | None = None,
        timing: str | None = None,
    ) -> int | None:
        """The new entry's id, or None when (channel, channel_txn_id, kind) is already booked."""
        return (await self.session.execute(_RECORD, _record_params(
            channel, channel_txn_id, kind, order_no, amount_fen, occurred_at, origin, person_id,
            plan_year, payer, coverage_start, notification_id, outcome, refers_to,
            coverage_basis, timing))).scalar()

    async def record_payment(self, **entry: Any) -> tuple[int, bool] | None:
        """`record` for a payment, with whether its reversal is already booked (one round trip
        instead of two); None when the payment is already booked. Read after the caller's
        `lock_payment`, so a reversal committed meanwhile is seen."""
        row = (await self.session.execute(_RECORD_PAYMENT, _record_params(**entry))).first()
        return None if row is None else (int(row[0]), bool(row[1]))

    async def record_payments(self, entries: list[dict[str, Any]]
                              ) -> dict[tuple[str, str], tuple[int, bool]]:
        """`record_payment` of several payments with distinct keys (channel, channel_txn_id,
        order_no, amount_fen, occurred_at, origin, notification_id each), after
        `lock_payments`: (channel, channel_txn_id) -> (id, reversed already) of those that
        were not booked yet."""
        if not entries:
            return {}
        rows = (await self.session.execute(_RECORD_PAYMENTS, {
            "c": [e["channel"] for e in entries], "t": [e["channel_txn_id"] for e in entries],
            "o": [e["order_no"] for e in entries], "a": [e["amount_fen"] for e in entries],
            "at": [e["occurred_at"] for e in entries], "origin": [e["origin"] for e in entries],
            "nid": [e["notification_id"] for e in entries]})).all()
        return {(r[0], r[1]): (int(r[2]), bool(r[3])) for r in rows}

    async def update(self, entry_id: int, *, outcome: str, person_id: uuid.UUID | None,
                     plan_year: int | None, coverage_start: dt.date | None = None,
                     order_no: str | None = None,
                     coverage_basis: dict[str, Any] | None = None,
                     timing: str | None = None) -> None:
        await self.session.execute(_UPDATE, self.update_params(
            entry_id, outcome=outcome, person_id=person_id, plan_year=plan_year,
            coverage_start=coverage_start, order_no=order_no, coverage_basis=coverage_basis,
            timing=timing))

    async def update_many(self, rows: list[dict[str, Any]]) -> None:
        """`update` of several entries (`update_params` each), one pipelined statement."""
        if rows:
            await self.session.execute(_UPDATE, rows)

    @staticmethod
    def update_params(entry_id: int, *, outcome: str, person_id: uuid.UUID | None,
                      plan_year: int | None, coverage_start: dt.date | None = None,
                      order_no: str | None = None, coverage_basis: dict[str, Any] | None = None,
                      timing: str | None = None) -> dict[str, Any]:
        return {"id": entry_id, "outcome": outcome, "p": person_id, "y": plan_year,
                "cs": coverage_start, "o": order_no, "timing": timing,
                "basis": orjson.dumps(coverage_basis).decode() if coverage_basis else None}

    async def unapply(self, entry_id: int, *, order_no: str | None, person_id: uuid.UUID | None,
                      plan_year: int | None) -> None:
        """A payment back to suspense (staff reversed the match): the hints it arrived with."""
        await self.session.execute(text(
            f"""UPDATE {S}.ledger SET outcome = 'suspense', person_id = :p, plan_year = :y,
                       coverage_start = NULL, coverage_basis = NULL, timing = NULL,
                       order_no = coalesce(:o, order_no)
                WHERE id = :id"""),
            {"id": entry_id, "p": person_id, "y": plan_year, "o": order_no})

    async def set_outcome(self, entry_id: int, outcome: str) -> None:
        await self.session.execute(text(f"UPDATE {S}.ledger SET outcome = :o WHERE id = :id"),
                                   {"o": outcome, "id": entry_id})

    async def get(self, channel: str, channel_txn_id: str, kind: str, *,
                  for_update: bool = False) -> LedgerRow | None:
        row = (await self.session.execute(
            _GET[" FOR UPDATE" if for_update else ""],
            {"c": channel, "t": channel_txn_id, "k": kind})).first()
        return LedgerRow(*row) if row else None

    async def occurred_at(self, entry_id: int) -> dt.datetime:
        return (await self.session.execute(
            text(f"SELECT occurred_at FROM {S}.ledger WHERE id = :id"), {"id": entry_id}
        )).scalar_one()

    async def booked_txns(self, channel: str, kind: str, txns: list[str]) -> set[str]:
        """Which of these transaction ids are booked on `channel` as `kind`."""
        found = (await self.session.execute(text(
            f"""SELECT channel_txn_id FROM {S}.ledger WHERE channel = :c AND kind = :k
                AND channel_txn_id = ANY(:t)"""), {"c": channel, "k": kind, "t": txns})).scalars()
        return set(found)

    async def lock_payment(self, channel: str, payment_txn_id: str) -> None:
        """Serialize the refunds and reversals of one payment (until the transaction ends)."""
        await self.session.execute(_LOCK_PAYMENT, {"k": f"{channel}:{payment_txn_id}"})

    async def lock_payments(self, keys: list[tuple[str, str]]) -> None:
        """`lock_payment` of several (channel, payment txn id) pairs in one round trip, in
        sorted order (two batches locking overlapping payments wait instead of deadlocking)."""
        if keys:
            await self.session.execute(_LOCK_PAYMENTS,
                                       {"ks": [f"{c}:{t}" for c, t in sorted(set(keys))]})

    async def refunds_of(self, channel: str, payment_txn_id: str) -> list[LedgerRow]:
        """Every refund booked against one payment (entries from before `refers_to` existed
        were keyed by the payment's own id)."""
        rows = (await self.session.execute(text(
            f"""SELECT {_COLS} FROM {S}.ledger WHERE channel = :c AND kind = 'refund'
                AND (refers_to = :t OR (refers_to IS NULL AND channel_txn_id = :t))
                ORDER BY id"""), {"c": channel, "t": payment_txn_id})).all()
        return [LedgerRow(*r) for r in rows]

    async def for_day(self, channel: str, start: dt.datetime, end: dt.datetime) -> list[LedgerRow]:
        """Payments and refunds booked that day; a payment the channel reversed before the
        day ended is flagged (staff reversals only re-attribute money that stayed with us)."""
        rows = (await self.session.execute(text(
            f"""SELECT {_LCOLS}, EXISTS (
                    SELECT 1 FROM {S}.ledger r WHERE l.kind = 'payment' AND r.channel = l.channel
                      AND r.kind = 'reversal' AND r.refers_to = l.channel_txn_id
                      AND r.origin <> 'staff' AND r.occurred_at < :e)
                FROM {S}.ledger l WHERE l.channel = :c
                AND l.occurred_at >= :s AND l.occurred_at < :e
                AND l.kind IN ('payment', 'refund')"""),
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
