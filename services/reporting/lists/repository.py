"""Name lists read per village or per county from the person-year projection."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

S = "reporting"


async def paid_in_village(
    session: AsyncSession, village_code: str, plan_year: int
) -> list[dict[str, Any]]:
    rows = await session.execute(text(f"""
        SELECT y.person_id, coalesce(p.name_masked, '') AS name_masked,
               coalesce(p.id_number_masked, '') AS id_number_masked,
               y.paid_fen, y.paid_on, y.paid_by
        FROM {S}.person_years y LEFT JOIN {S}.persons p USING (person_id)
        WHERE y.village_code = :v AND y.plan_year = :y AND y.paid_by IS NOT NULL
        ORDER BY y.paid_on, p.id_number_masked, y.person_id"""),
        {"v": village_code, "y": plan_year})
    return [dict(r._mapping) for r in rows]


async def unpaid_in_village(session: AsyncSession, village_code: str, plan_year: int
                            ) -> list[dict[str, Any]]:
    """Enrolled (paid) last year and not paid this year, or registered this year and not paid.
    People whose enrollment this year is stopped or ended, or who are no longer due, are out."""
    rows = await session.execute(text(f"""
        WITH candidates AS (
            SELECT person_id, 'renewal' AS situation FROM {S}.person_years
            WHERE village_code = :v AND plan_year = :prev AND paid_by IS NOT NULL
            UNION ALL
            SELECT person_id, 'registered' FROM {S}.person_years
            WHERE village_code = :v AND plan_year = :y AND registered
        ), people AS (
            SELECT person_id, min(situation) AS situation FROM candidates GROUP BY person_id
        )
        SELECT c.person_id, c.situation, coalesce(p.name_masked, '') AS name_masked,
               coalesce(p.id_number_masked, '') AS id_number_masked, p.phone_enc,
               y.band, r.reason, r.note, r.recorded_at
        FROM people c
        LEFT JOIN {S}.person_years y ON y.person_id = c.person_id AND y.plan_year = :y
        LEFT JOIN {S}.persons p ON p.person_id = c.person_id
        LEFT JOIN {S}.reminder_reasons r ON r.person_id = c.person_id AND r.plan_year = :y
        WHERE y.person_id IS NULL OR (y.paid_by IS NULL AND y.enrolled
              AND coalesce(y.enrollment_status, 'registered') = 'registered')
        ORDER BY p.id_number_masked, c.person_id"""),
        {"v": village_code, "y": plan_year, "prev": plan_year - 1})
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
        SELECT coalesce(nullif(village_code, ''), nullif(township_code, ''),
                        nullif(county_code, '')), 0 AS pref
        FROM {S}.persons WHERE person_id = :p
        UNION ALL
        SELECT coalesce(nullif(village_code, ''), nullif(township_code, ''),
                        nullif(county_code, '')), 1
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


async def funding_counters(session: AsyncSession, county_code: str, plan_year: int,
                           budget_line: str | None) -> list[dict[str, Any]]:
    rows = await session.execute(text(f"""
        SELECT township_code, budget_line, rule_id, headcount, amount_fen, paid_headcount
        FROM {S}.funding WHERE county_code = :c AND plan_year = :y AND headcount <> 0
          AND (CAST(:b AS text) IS NULL OR budget_line = :b)
        ORDER BY budget_line, township_code, rule_id"""),
        {"c": county_code, "y": plan_year, "b": budget_line})
    return [dict(r._mapping) for r in rows]


async def subsidized_people(session: AsyncSession, county_code: str, plan_year: int,
                            budget_line: str | None, unpaid_only: bool = False
                            ) -> list[dict[str, Any]]:
    rows = await session.execute(text(f"""
        SELECT y.person_id, y.township_code, y.village_code,
               coalesce(p.name_masked, '') AS name_masked,
               coalesce(p.id_number_masked, '') AS id_number_masked,
               s->>'funding_source' AS budget_line, s->>'rule_id' AS rule_id,
               (s->>'amount_fen')::bigint AS amount_fen, y.paid_by, y.paid_on
        FROM {S}.person_years y
        CROSS JOIN LATERAL jsonb_array_elements(y.subsidies) AS s
        LEFT JOIN {S}.persons p ON p.person_id = y.person_id
        WHERE y.county_code = :c AND y.plan_year = :y AND y.subsidized
          AND (CAST(:b AS text) IS NULL OR s->>'funding_source' = :b)
          AND (NOT :unpaid OR y.paid_by IS NULL)
        ORDER BY s->>'funding_source', y.township_code, y.village_code, p.id_number_masked"""),
        {"c": county_code, "y": plan_year, "b": budget_line, "unpaid": unpaid_only})
    return [dict(r._mapping) for r in rows]
