"""Name lists of a region (village, township, county or wider) from the person-year
projection, filtered in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kernels.regions.codes import narrowest_sql
from services.reporting.regions import Region

S = "reporting"


async def paid_in(session: AsyncSession, region: Region, plan_year: int
                  ) -> list[dict[str, Any]]:
    """People of the region whose whole due is covered and who paid something, with what each
    payer paid."""
    where, params = region.where("y")
    rows = await session.execute(text(f"""
        SELECT y.person_id, y.village_code, coalesce(p.name_masked, '') AS name_masked,
               coalesce(p.id_number_masked, '') AS id_number_masked,
               y.paid_person_fen, y.paid_person_on, y.paid_government_fen,
               y.paid_government_on, y.settled_on
        FROM {S}.person_years y LEFT JOIN {S}.persons p USING (person_id)
        WHERE {where} AND y.plan_year = :y AND y.settled AND y.settled_on IS NOT NULL
        ORDER BY y.village_code, y.settled_on, p.id_number_masked, y.person_id"""),
        {"y": plan_year, **params})
    return [dict(r._mapping) for r in rows]


async def unpaid_in(session: AsyncSession, region: Region, plan_year: int
                    ) -> list[dict[str, Any]]:
    """Paid in full last year and not this year, or registered this year and not paid in full.
    People whose enrollment this year is stopped or ended, who are no longer due, or who owe
    nothing (settled without payment) are out."""
    where, params = region.where()
    rows = await session.execute(text(f"""
        WITH candidates AS (
            SELECT person_id, 'renewal' AS situation FROM {S}.person_years
            WHERE {where} AND plan_year = :prev AND settled
            UNION ALL
            SELECT person_id, 'registered' FROM {S}.person_years
            WHERE {where} AND plan_year = :y AND registered
        ), people AS (
            SELECT person_id, min(situation) AS situation FROM candidates GROUP BY person_id
        )
        SELECT c.person_id, c.situation, coalesce(p.name_masked, '') AS name_masked,
               coalesce(p.id_number_masked, '') AS id_number_masked, p.phone_enc,
               p.name_enc, p.household_no, p.address_enc,
               coalesce(nullif(y.village_code, ''), p.village_code) AS village_code,
               y.band, y.owed_person_fen, y.owed_government_fen, y.owed_late_fen,
               y.on_time_until, r.reason, r.note, r.recorded_at
        FROM people c
        LEFT JOIN {S}.person_years y ON y.person_id = c.person_id AND y.plan_year = :y
        LEFT JOIN {S}.persons p ON p.person_id = c.person_id
        LEFT JOIN {S}.reminder_reasons r ON r.person_id = c.person_id AND r.plan_year = :y
        WHERE y.person_id IS NULL OR (NOT y.settled AND y.enrolled
              AND coalesce(y.enrollment_status, 'registered') = 'registered')
        ORDER BY 9, p.id_number_masked, c.person_id"""),
        {"y": plan_year, "prev": plan_year - 1, **params})
    return [dict(r._mapping) for r in rows]


async def person_known(session: AsyncSession, person_id: str) -> bool:
    row = await session.execute(text(f"""
        SELECT 1 FROM {S}.persons WHERE person_id = :p
        UNION ALL SELECT 1 FROM {S}.person_years WHERE person_id = :p LIMIT 1"""),
        {"p": person_id})
    return row.first() is not None


async def person_region(session: AsyncSession, person_id: str, plan_year: int) -> str | None:
    """The narrowest region the person is known in: their registration, else their year."""
    row = await session.execute(text(f"""
        SELECT {narrowest_sql(empty_as_null=True)}, 0 AS pref
        FROM {S}.persons WHERE person_id = :p
        UNION ALL
        SELECT {narrowest_sql(empty_as_null=True)}, 1
        FROM {S}.person_years WHERE person_id = :p AND plan_year = :y
        ORDER BY 2 LIMIT 1"""), {"p": person_id, "y": plan_year})
    first = row.first()
    return first[0] if first else None


async def save_reason(session: AsyncSession, person_id: str, plan_year: int, reason: str,
                      note: str | None, recorded_by: str | None) -> dict[str, Any]:
    row = await session.execute(text(f"""
        INSERT INTO {S}.reminder_reasons (person_id, plan_year, reason, note, recorded_by)
        VALUES (:p, :y, :reason, :note, :by)
        ON CONFLICT (person_id, plan_year) DO UPDATE SET reason = EXCLUDED.reason,
            note = EXCLUDED.note, recorded_by = EXCLUDED.recorded_by, recorded_at = now()
        RETURNING person_id, plan_year, reason, note, recorded_by, recorded_at"""),
        {"p": person_id, "y": plan_year, "reason": reason, "note": note, "by": recorded_by})
    return dict(row.one()._mapping)


async def funding_counters(session: AsyncSession, region: Region, plan_year: int,
                           budget_line: str | None) -> list[dict[str, Any]]:
    """Counters are kept per township: a village's figures come from its people instead."""
    where, params = region.where(village=False)
    rows = await session.execute(text(f"""
        SELECT township_code, budget_line, rule_id, sum(headcount)::int AS headcount,
               sum(amount_fen)::bigint AS amount_fen, sum(paid_headcount)::int AS paid_headcount
        FROM {S}.funding WHERE {where} AND plan_year = :y
          AND (CAST(:b AS text) IS NULL OR budget_line = :b)
        GROUP BY 1, 2, 3 HAVING sum(headcount) <> 0
        ORDER BY budget_line, township_code, rule_id"""),
        {"y": plan_year, "b": budget_line, **params})
    return [dict(r._mapping) for r in rows]


async def subsidized_people(session: AsyncSession, region: Region, plan_year: int,
                            budget_line: str | None, unpaid_only: bool = False
                            ) -> list[dict[str, Any]]:
    """One row per person and subsidy line; `paid` when the line's budget has paid all of it."""
    where, params = region.where("y")
    rows = await session.execute(text(f"""
        SELECT y.person_id, y.township_code, y.village_code,
               coalesce(p.name_masked, '') AS name_masked,
               coalesce(p.id_number_masked, '') AS id_number_masked,
               s->>'funding_source' AS budget_line, s->>'rule_id' AS rule_id,
               (s->>'amount_fen')::bigint AS amount_fen,
               coalesce((s->>'paid_fen')::bigint, 0) AS paid_fen,
               coalesce((s->>'paid_fen')::bigint, 0) >= (s->>'amount_fen')::bigint AS paid,
               y.paid_government_on AS paid_on
        FROM {S}.person_years y
        CROSS JOIN LATERAL jsonb_array_elements(y.subsidies) AS s
        LEFT JOIN {S}.persons p ON p.person_id = y.person_id
        WHERE {where} AND y.plan_year = :y AND y.subsidized
          AND (CAST(:b AS text) IS NULL OR s->>'funding_source' = :b)
          AND (NOT :unpaid
               OR coalesce((s->>'paid_fen')::bigint, 0) < (s->>'amount_fen')::bigint)
        ORDER BY s->>'funding_source', y.township_code, y.village_code, p.id_number_masked"""),
        {"y": plan_year, "b": budget_line, "unpaid": unpaid_only, **params})
    return [dict(r._mapping) for r in rows]
