"""SQL of village collection: receipts, hand-overs, deposits."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

S = "payments"
_RECEIPT_COLS = ("receipt_no, village_code, collector, person_id, plan_year, amount_fen, method, "
                 "qr_txn_id, collected_at, day, outcome, status, void_reason, voided_at, "
                 "voided_by, handover_id")
_HANDOVER_COLS = ("id, handover_no, collector, village_code, day, receipt_count, total_fen, "
                  "cash_fen, qr_fen, voided_count, declared_count, declared_total_fen, flagged, "
                  "problems, status, bank_ref, deposited_fen, deposited_on, difference_fen, "
                  "deposit_recorded_by, created_at")


class CollectorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def next_receipt_no(self, village_code: str) -> str:
        """The village's next receipt number (row-locked: numbers never repeat or skip)."""
        n = (await self.session.execute(text(f"""
            INSERT INTO {S}.collector_receipt_numbers (village_code, last_no) VALUES (:v, 1)
            ON CONFLICT (village_code) DO UPDATE
                SET last_no = {S}.collector_receipt_numbers.last_no + 1
            RETURNING last_no"""), {"v": village_code})).scalar_one()
        return f"SJ{village_code}{int(n):07d}"

    async def add_receipt(self, *, receipt_no: str, village_code: str, collector: str,
                          person_id: uuid.UUID, plan_year: int, amount_fen: int, method: str,
                          qr_txn_id: str | None, collected_at: dt.datetime, day: dt.date,
                          outcome: str) -> None:
        await self.session.execute(text(f"""
            INSERT INTO {S}.collector_receipts (receipt_no, village_code, collector, person_id,
                plan_year, amount_fen, method, qr_txn_id, collected_at, day, outcome)
            VALUES (:r, :v, :c, :p, :y, :a, :m, :q, :at, :d, :o)"""),
            {"r": receipt_no, "v": village_code, "c": collector, "p": person_id, "y": plan_year,
             "a": amount_fen, "m": method, "q": qr_txn_id, "at": collected_at, "d": day,
             "o": outcome})

    async def receipt(self, receipt_no: str, *, for_update: bool = False
                      ) -> dict[str, Any] | None:
        lock = " FOR UPDATE" if for_update else ""
        row = (await self.session.execute(text(
            f"SELECT {_RECEIPT_COLS} FROM {S}.collector_receipts WHERE receipt_no = :r{lock}"),
            {"r": receipt_no})).mappings().first()
        return dict(row) if row else None

    async def void(self, receipt_no: str, reason: str, by: str, outcome: str) -> None:
        await self.session.execute(text(f"""
            UPDATE {S}.collector_receipts SET status = 'voided', void_reason = :why,
                voided_at = now(), voided_by = :by, outcome = :o WHERE receipt_no = :r"""),
            {"r": receipt_no, "why": reason, "by": by, "o": outcome})

    async def receipts(self, *, region_filter: str | None, collector: str | None,
                       day: dt.date | None, limit: int) -> list[dict[str, Any]]:
        rows = (await self.session.execute(text(f"""
            SELECT {_RECEIPT_COLS} FROM {S}.collector_receipts
            WHERE (CAST(:rp AS text) IS NULL OR village_code LIKE :rp || '%')
              AND (CAST(:c AS text) IS NULL OR collector = :c)
              AND (CAST(:d AS date) IS NULL OR day = :d)
            ORDER BY receipt_no LIMIT :n"""),
            {"rp": region_filter, "c": collector, "d": day, "n": limit})).mappings().all()
        return [dict(r) for r in rows]

    async def unhanded(self, collector: str, day: dt.date) -> list[dict[str, Any]]:
        """The collector's receipts up to `day` not yet in a hand-over (locked)."""
        rows = (await self.session.execute(text(f"""
            SELECT {_RECEIPT_COLS} FROM {S}.collector_receipts
            WHERE collector = :c AND day <= :d AND handover_id IS NULL
            ORDER BY receipt_no FOR UPDATE"""), {"c": collector, "d": day})).mappings().all()
        return [dict(r) for r in rows]

    async def add_handover(self, values: dict[str, Any], receipt_nos: list[str]) -> int:
        hid = int((await self.session.execute(text(f"""
            INSERT INTO {S}.collector_handovers (handover_no, collector, village_code, day,
                receipt_count, total_fen, cash_fen, qr_fen, voided_count, declared_count,
                declared_total_fen, flagged, problems)
            VALUES (:handover_no, :collector, :village_code, :day, :receipt_count, :total_fen,
                    :cash_fen, :qr_fen, :voided_count, :declared_count, :declared_total_fen,
                    :flagged, CAST(:problems AS jsonb))
            ON CONFLICT (collector, day) DO NOTHING RETURNING id"""),
            {**values, "problems": orjson.dumps(values["problems"]).decode()})).scalar() or 0)
        if hid and receipt_nos:
            await self.session.execute(text(
                f"""UPDATE {S}.collector_receipts SET handover_id = :h
                    WHERE receipt_no = ANY(:r)"""), {"h": hid, "r": receipt_nos})
        return hid

    async def handover(self, handover_no: str, *, for_update: bool = False
                       ) -> dict[str, Any] | None:
        lock = " FOR UPDATE" if for_update else ""
        row = (await self.session.execute(text(
            f"SELECT {_HANDOVER_COLS} FROM {S}.collector_handovers WHERE handover_no = :h{lock}"),
            {"h": handover_no})).mappings().first()
        return dict(row) if row else None

    async def handover_by_id(self, hid: int) -> dict[str, Any]:
        return dict((await self.session.execute(text(
            f"SELECT {_HANDOVER_COLS} FROM {S}.collector_handovers WHERE id = :id"),
            {"id": hid})).mappings().one())

    async def handovers(self, *, region_filter: str | None, collector: str | None,
                        day: dt.date | None) -> list[dict[str, Any]]:
        rows = (await self.session.execute(text(f"""
            SELECT {_HANDOVER_COLS} FROM {S}.collector_handovers
            WHERE (CAST(:rp AS text) IS NULL OR village_code LIKE :rp || '%')
              AND (CAST(:c AS text) IS NULL OR collector = :c)
              AND (CAST(:d AS date) IS NULL OR day = :d)
            ORDER BY day, handover_no"""),
            {"rp": region_filter, "c": collector, "d": day})).mappings().all()
        return [dict(r) for r in rows]

    async def record_deposit(self, hid: int, *, bank_ref: str, amount_fen: int,
                             deposited_on: dt.date, status: str, difference_fen: int,
                             by: str) -> None:
        await self.session.execute(text(f"""
            UPDATE {S}.collector_handovers SET bank_ref = :ref, deposited_fen = :a,
                deposited_on = :d, status = :s, difference_fen = :diff,
                deposit_recorded_by = :by WHERE id = :id"""),
            {"id": hid, "ref": bank_ref, "a": amount_fen, "d": deposited_on, "s": status,
             "diff": difference_fen, "by": by})

    async def person_by_id_hashes(self, hashes: list[str]) -> uuid.UUID | None:
        """The person whose ID number has one of these lookup hashes (None: nobody known)."""
        found: uuid.UUID | None = (await self.session.execute(text(
            f"SELECT person_id FROM {S}.persons WHERE id_number_hash = ANY(:h)"),
            {"h": hashes})).scalar()
        return found

    async def handover_of_bank_ref(self, bank_ref: str) -> str | None:
        return (await self.session.execute(text(
            f"SELECT handover_no FROM {S}.collector_handovers WHERE bank_ref = :r"),
            {"r": bank_ref})).scalar()
