"""What a person owes now, for a channel about to take the money.

The answer carries the order to pay against. There is at most one open or paid order per
person and year (a partial unique index), so two channels can never both charge a person for
the same year. The lookup is one prepared statement; an order is issued only when none is live,
under a share lock on the determination so that a concurrent change cannot leave a stale order.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from services.payments.orders.repository import new_order_no
from shared.auth import Principal
from shared.errors import Invalid, NotFound
from shared.idnumber import InvalidIdNumber, parse_id_number
from shared.money import fen_to_yuan
from shared.pii import PiiVault

S = "payments"

LOOKUP_SQL = f"""
SELECT p.person_id, p.name_masked, p.id_number_masked, p.county_code, p.township_code,
       p.village_code, d.revision, d.enrolled, d.personal_fen, d.standard_fen,
       d.subsidies, d.coverage_start, o.order_no, o.amount_fen, o.status, o.paid_at,
       o.coverage_start
FROM {S}.persons p
LEFT JOIN {S}.dues d ON d.person_id = p.person_id AND d.plan_year = $2
LEFT JOIN LATERAL (
    SELECT order_no, amount_fen, status, paid_at, coverage_start FROM {S}.orders
    WHERE person_id = p.person_id AND plan_year = $2 AND status IN ('open', 'paid')
) o ON true
WHERE p.id_number_hash = $1
"""
LOCK_DUE_SQL = f"""SELECT revision, enrolled, personal_fen FROM {S}.dues
                   WHERE person_id = $1 AND plan_year = $2 FOR SHARE"""
ISSUE_SQL = f"""
INSERT INTO {S}.orders (order_no, person_id, plan_year, amount_fen, due_revision, status)
VALUES ($1, $2, $3, $4, $5, 'open')
ON CONFLICT (person_id, plan_year) WHERE status IN ('open', 'paid') DO NOTHING
"""


@dataclass(frozen=True)
class Bill:
    status: str  # due | paid | subsidized | nothing_due | not_enrolled
    body: dict[str, Any]

    def json(self) -> bytes:
        return orjson.dumps(self.body)


class BillService:
    def __init__(self, pool: asyncpg.Pool, vault: PiiVault) -> None:
        self.pool = pool
        self.vault = vault

    async def lookup(self, id_number: str, plan_year: int,
                     principal: Principal | None = None) -> Bill:
        """`principal`: the caller; staff limited to a region find only the people registered
        in it (anyone else is answered as not registered, and no order is issued)."""
        try:
            ident = parse_id_number(id_number)
        except InvalidIdNumber as exc:
            raise Invalid(f"id_number: {exc}", field="id_number",
                          code="invalid_id_number") from None
        id_hash = self.vault.lookup_hash(ident.value)
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(LOOKUP_SQL, id_hash, plan_year)
            if row is None or not _visible(principal, row):
                raise NotFound("no person with this ID number is registered",
                               code="person_not_found")
            if (row["revision"] is not None and row["enrolled"] and row["personal_fen"] > 0
                    and row["order_no"] is None):
                row = await self._issue(conn, row["person_id"], id_hash, plan_year)
        return _bill(row, plan_year)

    async def _issue(self, conn: asyncpg.Connection, person_id: uuid.UUID, id_hash: str,
                     plan_year: int) -> asyncpg.Record:
        async with conn.transaction():
            due = await conn.fetchrow(LOCK_DUE_SQL, person_id, plan_year)
            if due is not None and due["enrolled"] and due["personal_fen"] > 0:
                await conn.execute(ISSUE_SQL, new_order_no(plan_year), person_id, plan_year,
                                   due["personal_fen"], due["revision"])
            return await conn.fetchrow(LOOKUP_SQL, id_hash, plan_year)


def _visible(principal: Principal | None, row: asyncpg.Record) -> bool:
    if principal is None or principal.sees_all_regions:
        return True
    region = row["village_code"] or row["township_code"] or row["county_code"]
    return region is not None and principal.can_see_region(region)


def _bill(row: asyncpg.Record, plan_year: int) -> Bill:
    body: dict[str, Any] = {
        "plan_year": plan_year,
        "name_masked": row["name_masked"], "id_number_masked": row["id_number_masked"],
        "county_code": row["county_code"], "township_code": row["township_code"],
        "village_code": row["village_code"],
    }
    if row["revision"] is None or not row["enrolled"]:
        reason = ("no determination for this plan year: the person is not enrolled"
                  if row["revision"] is None else "the enrollment was stopped or ended")
        return Bill("not_enrolled", {"status": "not_enrolled", **body, "amount_fen": 0,
                                     "reason": reason})
    subsidies = row["subsidies"] or []
    body.update(standard_fen=row["standard_fen"], subsidies=subsidies)
    if row["status"] == "paid":
        return Bill("paid", {"status": "paid", **body, "amount_fen": 0,
                             "order_no": row["order_no"], "paid_fen": row["amount_fen"],
                             "paid_at": _iso(row["paid_at"]),
                             "coverage_start": _iso(row[16]),
                             "reason": "already paid for this plan year"})
    if row["personal_fen"] == 0:
        status = "subsidized" if subsidies else "nothing_due"
        reason = ("the government pays the whole contribution (subsidized in full)"
                  if subsidies else "nothing is due")
        return Bill(status, {"status": status, **body, "amount_fen": 0, "reason": reason,
                             "coverage_start": _iso(row["coverage_start"])})
    return Bill("due", {"status": "due", **body, "amount_fen": row["amount_fen"],
                        "amount_yuan": fen_to_yuan(row["amount_fen"]),
                        "order_no": row["order_no"],
                        "coverage_start_if_paid_in_period": _iso(row["coverage_start"])})


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None
