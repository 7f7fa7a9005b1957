"""SQL of the tax exchange and of the reconciliation medical insurance <-> tax."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

S = "payments"


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class CurrentItem:
    """What the tax bureau should know now about one person, year and item."""
    person_id: uuid.UUID
    item: str  # '' for the dues, the budget line for a special-payment document
    region_code: str
    amount_fen: int
    digest: str
    row: dict[str, str]


@dataclass(frozen=True)
class SentItem:
    person_id: uuid.UUID
    item: str
    region_code: str
    amount_fen: int
    digest: str


class TaxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, name: str) -> None:
        """Serialize the numbering of one file series until the transaction ends."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('payments:tax'), hashtext(:k))"),
            {"k": name})

    # --- outgoing -----------------------------------------------------------------------
    async def dues_in_region(self, region_code: str, plan_year: int) -> list[dict[str, Any]]:
        rows = (await self.session.execute(text(f"""
            SELECT d.person_id, d.enrolled, d.insured_category, d.standard_fen, d.personal_fen,
                   d.subsidies, p.id_number_masked, p.name_masked, d.region_code AS plan_region,
                   d.policy_version,
                   coalesce(d.village_code, p.village_code, d.township_code, p.township_code,
                            d.county_code, p.county_code, d.region_code) AS region
            FROM {S}.dues d LEFT JOIN {S}.persons p USING (person_id)
            WHERE d.plan_year = :y
              AND coalesce(d.village_code, p.village_code, d.township_code, p.township_code,
                           d.county_code, p.county_code, d.region_code) LIKE :r || '%'
            ORDER BY d.person_id"""), {"y": plan_year, "r": region_code})).mappings().all()
        return [dict(r) for r in rows]

    async def sent_items(self, kind: str, region_code: str, plan_year: int) -> list[SentItem]:
        rows = (await self.session.execute(text(f"""
            SELECT person_id, item, region_code, amount_fen, digest FROM {S}.tax_outgoing_state
            WHERE kind = :k AND plan_year = :y AND region_code LIKE :r || '%'"""),
            {"k": kind, "y": plan_year, "r": region_code})).all()
        return [SentItem(*r) for r in rows]

    async def next_outgoing_seq(self, kind: str, region_code: str) -> int:
        return int((await self.session.execute(text(
            f"""SELECT coalesce(max(seq_no), 0) + 1 FROM {S}.tax_outgoing_files
                WHERE kind = :k AND region_code = :r"""), {"k": kind, "r": region_code}
        )).scalar_one())

    async def add_outgoing(self, *, kind: str, region_code: str, plan_year: int, seq_no: int,
                           record_count: int, total_fen: int, content: str, sha256: str,
                           created_by: str | None) -> int:
        return int((await self.session.execute(text(f"""
            INSERT INTO {S}.tax_outgoing_files (kind, region_code, plan_year, seq_no,
                record_count, total_fen, content, sha256, created_by)
            VALUES (:k, :r, :y, :n, :c, :t, :content, :sha, :by) RETURNING id"""),
            {"k": kind, "r": region_code, "y": plan_year, "n": seq_no, "c": record_count,
             "t": total_fen, "content": content, "sha": sha256, "by": created_by}
        )).scalar_one())

    async def remember_sent(self, kind: str, plan_year: int, file_id: int,
                            items: list[SentItem]) -> None:
        if not items:
            return
        await self.session.execute(text(f"""
            INSERT INTO {S}.tax_outgoing_state (kind, person_id, plan_year, item, region_code,
                amount_fen, digest, file_id)
            SELECT :k, x.p, :y, x.i, x.r, x.a, x.d, :f
            FROM unnest(CAST(:ps AS uuid[]), CAST(:is AS text[]), CAST(:rs AS text[]),
                        CAST(:as AS bigint[]), CAST(:ds AS text[])) AS x(p, i, r, a, d)
            ON CONFLICT (kind, person_id, plan_year, item) DO UPDATE SET
                region_code = EXCLUDED.region_code, amount_fen = EXCLUDED.amount_fen,
                digest = EXCLUDED.digest, file_id = EXCLUDED.file_id"""),
            {"k": kind, "y": plan_year, "f": file_id, "ps": [i.person_id for i in items],
             "is": [i.item for i in items], "rs": [i.region_code for i in items],
             "as": [i.amount_fen for i in items], "ds": [i.digest for i in items]})

    async def outgoing_file(self, file_id: int) -> dict[str, Any] | None:
        row = (await self.session.execute(text(f"""
            SELECT id, kind, region_code, plan_year, seq_no, record_count, total_fen, content,
                   sha256, created_at FROM {S}.tax_outgoing_files WHERE id = :id"""),
            {"id": file_id})).mappings().first()
        return dict(row) if row else None

    async def outgoing_files(self, region_filter: str | None, kind: str | None
                             ) -> list[dict[str, Any]]:
        rows = (await self.session.execute(text(f"""
            SELECT id, kind, region_code, plan_year, seq_no, record_count, total_fen, sha256,
                   created_at FROM {S}.tax_outgoing_files
            WHERE (CAST(:rp AS text) IS NULL OR region_code LIKE :rp || '%')
              AND (CAST(:k AS text) IS NULL OR kind = :k)
            ORDER BY kind, region_code, seq_no"""), {"rp": region_filter, "k": kind}
        )).mappings().all()
        return [dict(r) for r in rows]

    # --- incoming -----------------------------------------------------------------------
    async def incoming_by_seq(self, region_code: str, seq_no: int) -> dict[str, Any] | None:
        row = (await self.session.execute(text(f"""
            SELECT id, seq_no, sha256, record_count, total_fen, outcomes, created_at
            FROM {S}.tax_incoming_files WHERE region_code = :r AND seq_no = :n"""),
            {"r": region_code, "n": seq_no})).mappings().first()
        return dict(row) if row else None

    async def last_incoming_seq(self, region_code: str) -> int:
        return int((await self.session.execute(text(
            f"SELECT coalesce(max(seq_no), 0) FROM {S}.tax_incoming_files WHERE region_code = :r"),
            {"r": region_code})).scalar_one())

    async def add_incoming(self, *, region_code: str, seq_no: int, record_count: int,
                           total_fen: int, sha256: str, received_by: str | None) -> int:
        return int((await self.session.execute(text(f"""
            INSERT INTO {S}.tax_incoming_files (region_code, seq_no, record_count, total_fen,
                sha256, outcomes, received_by)
            VALUES (:r, :n, :c, :t, :sha, '{{}}', :by) RETURNING id"""),
            {"r": region_code, "n": seq_no, "c": record_count, "t": total_fen, "sha": sha256,
             "by": received_by})).scalar_one())

    async def set_outcomes(self, file_id: int, outcomes: dict[str, int]) -> None:
        await self.session.execute(text(
            f"UPDATE {S}.tax_incoming_files SET outcomes = CAST(:o AS jsonb) WHERE id = :id"),
            {"o": _json(outcomes), "id": file_id})

    async def add_refusal(self, *, region_code: str | None, seq_no: int | None, sha256: str,
                          problems: list[str], rows: list[dict[str, Any]],
                          received_by: str | None) -> None:
        await self.session.execute(text(f"""
            INSERT INTO {S}.tax_incoming_refusals (region_code, seq_no, sha256, problems, rows,
                received_by)
            VALUES (:r, :n, :sha, CAST(:p AS jsonb), CAST(:rows AS jsonb), :by)"""),
            {"r": region_code, "n": seq_no, "sha": sha256, "p": _json(problems),
             "rows": _json(rows), "by": received_by})

    async def records_by_receipt(self, receipts: list[str]) -> dict[tuple[str, str],
                                                                   dict[str, Any]]:
        if not receipts:
            return {}
        rows = (await self.session.execute(text(f"""
            SELECT r.record_type, r.receipt_no, r.reverses, r.person_id, r.plan_year,
                   r.amount_fen, r.paid_on, f.seq_no
            FROM {S}.tax_payment_records r JOIN {S}.tax_incoming_files f ON f.id = r.file_id
            WHERE r.receipt_no = ANY(:t)"""), {"t": receipts})).mappings().all()
        return {(r["record_type"], r["receipt_no"]): dict(r) for r in rows}

    async def add_record(self, *, file_id: int, row_no: int, record_type: str, receipt_no: str,
                         reverses: str | None, person_id: uuid.UUID, plan_year: int,
                         amount_fen: int, paid_on: dt.date, paid_at: dt.datetime,
                         tax_channel: str, invoice_no: str | None, outcome: str) -> None:
        await self.session.execute(text(f"""
            INSERT INTO {S}.tax_payment_records (file_id, row_no, record_type, receipt_no,
                reverses, person_id, plan_year, amount_fen, paid_on, paid_at, tax_channel,
                invoice_no, outcome)
            VALUES (:f, :n, :t, :rc, :rv, :p, :y, :a, :d, :at, :ch, :inv, :o)
            ON CONFLICT (record_type, receipt_no) DO NOTHING"""),
            {"f": file_id, "n": row_no, "t": record_type, "rc": receipt_no, "rv": reverses,
             "p": person_id, "y": plan_year, "a": amount_fen, "d": paid_on, "at": paid_at,
             "ch": tax_channel, "inv": invoice_no, "o": outcome})

    async def persons(self, person_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        """Who payments knows, with the region they lie in and their ID number's hash."""
        if not person_ids:
            return {}
        rows = (await self.session.execute(text(f"""
            SELECT p.person_id, p.id_number_hash, p.id_number_masked, p.name_masked,
                   coalesce(p.village_code, p.township_code, p.county_code) AS region
            FROM {S}.persons p WHERE p.person_id = ANY(:ids)"""), {"ids": person_ids}
        )).mappings().all()
        return {r["person_id"]: dict(r) for r in rows}

    async def dues_years(self, person_ids: list[uuid.UUID]) -> set[tuple[uuid.UUID, int]]:
        if not person_ids:
            return set()
        rows = (await self.session.execute(text(
            f"""SELECT person_id, plan_year FROM {S}.dues
                WHERE person_id = ANY(:ids) AND enrolled"""), {"ids": person_ids})).all()
        return {(r[0], r[1]) for r in rows}

    # --- reconciliation medical insurance <-> tax ------------------------------------------
    async def reconciliation_of_period(self, region_code: str, start: dt.date, end: dt.date
                                       ) -> tuple[int, str] | None:
        """The reconciliation already made for this region and period: its id and digest."""
        row = (await self.session.execute(text(
            f"""SELECT id, sha256 FROM {S}.tax_reconciliations
                WHERE region_code = :r AND period_start = :a AND period_end = :b"""),
            {"r": region_code, "a": start, "b": end})).first()
        return (int(row[0]), str(row[1])) if row is not None else None

    async def booked_movements(self, region_code: str, start: dt.date, end: dt.date
                               ) -> list[tuple[int, uuid.UUID, int, str, int, dt.date, str]]:
        """The applied payments and reversals of persons in the region, dated in the period
        (Beijing dates), every channel: (ledger id, person, plan year, kind, amount, day,
        channel)."""
        rows = (await self.session.execute(text(_BOOKED), {"a": start, "b": end,
                                                            "r": region_code})).all()
        return [(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]

    async def add_reconciliation(self, *, region_code: str, start: dt.date, end: dt.date,
                                 seq_no: int | None, sha256: str, tax_totals: dict[str, Any],
                                 ledger_totals: dict[str, Any], counts: dict[str, int],
                                 schedule: dict[str, Any], created_by: str | None) -> int:
        return int((await self.session.execute(text(f"""
            INSERT INTO {S}.tax_reconciliations (region_code, period_start, period_end, seq_no,
                sha256, tax_totals, ledger_totals, counts, schedule, created_by)
            VALUES (:r, :a, :b, :n, :sha, CAST(:t AS jsonb), CAST(:l AS jsonb),
                    CAST(:c AS jsonb), CAST(:s AS jsonb), :by) RETURNING id"""),
            {"r": region_code, "a": start, "b": end, "n": seq_no, "sha": sha256,
             "t": _json_any(tax_totals), "l": _json_any(ledger_totals), "c": _json_any(counts),
             "s": _json_any(schedule), "by": created_by})).scalar_one())

    async def add_difference(self, rec_id: int, difference: dict[str, Any]) -> None:
        await self.session.execute(text(f"""
            INSERT INTO {S}.tax_reconciliation_differences (reconciliation_id, kind,
                person_id, plan_year, tax_amount_fen, ledger_amount_fen, tax_paid_on,
                ledger_paid_on, receipt_nos, ledger_ids, detail)
            VALUES (:rec, :kind, :person_id, :plan_year, :tax_amount_fen,
                    :ledger_amount_fen, :tax_paid_on, :ledger_paid_on, :receipt_nos,
                    :ledger_ids, :detail)"""), {"rec": rec_id, **difference})

    async def resolve_difference(self, rec_id: int, diff_id: int,
                                 resolution: dict[str, Any]) -> bool:
        """An open difference resolved; False when it is not open (or not there)."""
        row = (await self.session.execute(text(f"""
            UPDATE {S}.tax_reconciliation_differences SET status = 'resolved',
                resolution = CAST(:res AS jsonb), resolved_at = now()
            WHERE id = :d AND reconciliation_id = :r AND status = 'open' RETURNING id"""),
            {"d": diff_id, "r": rec_id, "res": _json_any(resolution)})).first()
        return row is not None

    async def difference_status(self, rec_id: int, diff_id: int) -> str | None:
        found: str | None = (await self.session.execute(text(
            f"""SELECT status FROM {S}.tax_reconciliation_differences
                WHERE id = :d AND reconciliation_id = :r"""),
            {"d": diff_id, "r": rec_id})).scalar()
        return found

    async def next_revision(self, rec_id: int) -> None:
        await self.session.execute(text(
            f"UPDATE {S}.tax_reconciliations SET revision = revision + 1 WHERE id = :id"),
            {"id": rec_id})

    async def reconciliations_ending(self, region_code: str, first: dt.date,
                                     after: dt.date) -> int:
        """How many reconciliations of the region end in [first, after)."""
        return int((await self.session.execute(text(
            f"""SELECT count(*) FROM {S}.tax_reconciliations WHERE region_code = :r
                AND period_end >= :a AND period_end < :b"""),
            {"r": region_code, "a": first, "b": after})).scalar_one())

    async def reconciliation(self, rec_id: int, *, lock: bool = False
                             ) -> dict[str, Any] | None:
        row = (await self.session.execute(text(
            f"""SELECT id, region_code, period_start, period_end, tax_totals, ledger_totals,
                       counts, schedule, revision, created_at
                FROM {S}.tax_reconciliations WHERE id = :id{' FOR UPDATE' if lock else ''}"""),
            {"id": rec_id})).mappings().first()
        return dict(row) if row else None

    async def differences(self, rec_id: int) -> list[dict[str, Any]]:
        """A reconciliation's differences, with the person's masked ID number and name."""
        rows = (await self.session.execute(text(f"""
            SELECT d.id, d.kind, d.person_id, d.plan_year, d.tax_amount_fen,
                   d.ledger_amount_fen, d.tax_paid_on, d.ledger_paid_on, d.receipt_nos,
                   d.ledger_ids, d.detail, d.status, d.resolution, p.id_number_masked,
                   p.name_masked
            FROM {S}.tax_reconciliation_differences d
            LEFT JOIN {S}.persons p ON p.person_id = d.person_id
            WHERE d.reconciliation_id = :r ORDER BY d.id"""), {"r": rec_id})).mappings().all()
        return [dict(r) for r in rows]

    async def difference_counts(self, rec_id: int) -> dict[str, int]:
        """Differences per status (open, resolved)."""
        rows = (await self.session.execute(text(
            f"""SELECT status, count(*) FROM {S}.tax_reconciliation_differences
                WHERE reconciliation_id = :id GROUP BY status"""), {"id": rec_id})).all()
        return {str(r[0]): int(r[1]) for r in rows}


def _json_any(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


_BOOKED = f"""
SELECT l.id, l.person_id, l.plan_year, l.kind, l.amount_fen,
       (l.occurred_at AT TIME ZONE 'Asia/Shanghai')::date AS day, l.channel
FROM {S}.ledger l
WHERE l.kind IN ('payment', 'reversal') AND l.payer = 'person' AND l.outcome = 'applied'
  AND l.person_id IS NOT NULL
  AND (l.occurred_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN :a AND :b
  AND coalesce(
        (SELECT coalesce(p.village_code, p.township_code, p.county_code)
         FROM {S}.persons p WHERE p.person_id = l.person_id),
        (SELECT coalesce(d.village_code, d.township_code, d.county_code, d.region_code)
         FROM {S}.dues d WHERE d.person_id = l.person_id AND d.plan_year = l.plan_year)
      ) LIKE :r || '%'"""
