"""What a bill reads and writes, over one plain asyncpg connection of the hot-path pool
(services/payments/hotpath.py): one prepared statement per step, no ORM session."""

from __future__ import annotations

import uuid

import asyncpg

from services.payments.coverage import PriorYear

S = "payments"

LOOKUP_SQL = f"""
SELECT p.person_id, p.name_masked, p.id_number_masked, p.county_code, p.township_code,
       p.village_code, d.revision, d.enrolled, d.personal_fen, d.standard_fen,
       d.subsidies, d.coverage_start, o.order_no, o.amount_fen, o.status, o.paid_at,
       o.coverage_start AS paid_coverage_start, d.region_code, d.insured_category,
       d.surcharge_fen, d.on_time_until, d.payable_until, d.late, o.timing
FROM {S}.persons p
LEFT JOIN {S}.dues d ON d.person_id = p.person_id AND d.plan_year = $2
LEFT JOIN LATERAL (
    SELECT order_no, amount_fen, status, paid_at, coverage_start, timing FROM {S}.orders
    WHERE person_id = p.person_id AND plan_year = $2 AND status IN ('open', 'paid')
    LIMIT 1  -- at most one live order (orders_one_live); the LIMIT keeps this a per-person
             -- index probe: flattened into a join, the prepared (generic) plan may scan every
             -- live order of the year instead (26 ms against 0.1 ms with 13 k orders)
) o ON true
WHERE p.id_number_hash = ANY($1::text[])
LIMIT 1
"""
LOCK_DUE_SQL = f"""SELECT revision, enrolled FROM {S}.dues
                   WHERE person_id = $1 AND plan_year = $2 FOR SHARE"""
ISSUE_SQL = f"""
INSERT INTO {S}.orders (order_no, person_id, plan_year, amount_fen, due_revision, status)
VALUES ($1, $2, $3, $4, $5, 'open')
ON CONFLICT (person_id, plan_year) WHERE status IN ('open', 'paid') DO NOTHING
"""
REPRICE_SQL = f"""UPDATE {S}.orders SET amount_fen = $2, updated_at = now()
                  WHERE order_no = $1 AND status = 'open'"""
# the person's earlier plan years (as DueRepository.prior_years and first_plan_year read them)
PRIOR_SQL = f"""
SELECT d.plan_year, d.enrolled, d.personal_fen,
       (SELECT min(o.paid_at) FROM {S}.orders o WHERE o.person_id = d.person_id
          AND o.plan_year = d.plan_year AND o.status = 'paid')
FROM {S}.dues d WHERE d.person_id = $1 AND d.plan_year < $2"""
FIRST_YEAR_SQL = f"SELECT min(plan_year) FROM {S}.dues WHERE region_code = $1"


class BillRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def find(self, id_hashes: list[str], plan_year: int) -> asyncpg.Record | None:
        """The person (by any key version's hash), the year's determination and live order."""
        return await self.conn.fetchrow(LOOKUP_SQL, id_hashes, plan_year)

    async def prior_years(self, person_id: uuid.UUID, plan_year: int) -> dict[int, PriorYear]:
        return {r[0]: PriorYear(r[0], r[1], int(r[2]), r[3])
                for r in await self.conn.fetch(PRIOR_SQL, person_id, plan_year)}

    async def first_plan_year(self, region_code: str) -> int | None:
        found: int | None = await self.conn.fetchval(FIRST_YEAR_SQL, region_code)
        return found

    async def issue_or_reprice(self, id_hashes: list[str], row: asyncpg.Record, plan_year: int,
                               amount_fen: int, order_no: str) -> asyncpg.Record:
        """Issue the order (`order_no`) when none is live, else reprice the open one, under a
        share lock on the determination (a concurrent change cannot leave a stale order); the
        row read again."""
        person_id: uuid.UUID = row["person_id"]
        async with self.conn.transaction():
            due = await self.conn.fetchrow(LOCK_DUE_SQL, person_id, plan_year)
            if due is not None and due["enrolled"]:
                if row["order_no"] is None:
                    await self.conn.execute(ISSUE_SQL, order_no, person_id, plan_year,
                                            amount_fen, due["revision"])
                else:
                    await self.conn.execute(REPRICE_SQL, row["order_no"], amount_fen)
            found = await self.conn.fetchrow(LOOKUP_SQL, id_hashes, plan_year)
        assert found is not None
        return found
