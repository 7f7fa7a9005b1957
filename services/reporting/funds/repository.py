"""Fund and reconciliation figures from counters and the reconciliation projection."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.progress.repository import SUMS, counter_rows
from services.reporting.regions import Region

S = "reporting"


async def paid_by_county(session: AsyncSession, plan_year: int, region: Region
                         ) -> list[dict[str, Any]]:
    table, where, params = counter_rows(region, "county")
    rows = await session.execute(text(f"""
        SELECT county_code, {SUMS}
        FROM {S}.{table} WHERE plan_year = :y AND {where}
        GROUP BY county_code ORDER BY county_code"""), {"y": plan_year, **params})
    return [dict(r._mapping) for r in rows]


async def subsidies_by_county(session: AsyncSession, plan_year: int, region: Region
                              ) -> list[dict[str, Any]]:
    where, params = region.where(village=False)
    rows = await session.execute(text(f"""
        SELECT county_code, budget_line, sum(headcount)::int AS headcount,
               sum(amount_fen)::bigint AS amount_fen,
               sum(paid_headcount)::int AS paid_headcount
        FROM {S}.funding WHERE plan_year = :y AND {where}
        GROUP BY county_code, budget_line ORDER BY county_code, budget_line"""),
        {"y": plan_year, **params})
    return [dict(r._mapping) for r in rows]


async def reconciliations(session: AsyncSession, channel: str | None, date_from: dt.date | None,
                          date_to: dt.date | None) -> list[dict[str, Any]]:
    rows = await session.execute(text(f"""
        SELECT reconciliation_key, channel, statement_date, completed_at, payload
        FROM {S}.reconciliations
        WHERE (CAST(:ch AS text) IS NULL OR channel = :ch)
          AND (CAST(:f AS date) IS NULL OR statement_date >= :f)
          AND (CAST(:t AS date) IS NULL OR statement_date <= :t)
        ORDER BY statement_date DESC NULLS LAST, channel"""),
        {"ch": channel, "f": date_from, "t": date_to})
    return [dict(r._mapping) for r in rows]
