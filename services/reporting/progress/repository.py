"""Reads of the pre-aggregated counters (a few thousand rows per county, never raw rows)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

S = "reporting"


async def counters(
    session: AsyncSession, county_code: str, plan_year: int, township_code: str | None
) -> list[dict[str, Any]]:
    unit = "village_code" if township_code else "township_code"
    scope = "AND township_code = :t" if township_code else ""
    rows = await session.execute(text(f"""
        SELECT {unit} AS code, band, sum(registered)::int AS registered,
               sum(paid_person)::int AS paid_person,
               sum(paid_government)::int AS paid_government,
               sum(paid_person_fen)::bigint AS paid_person_fen,
               sum(paid_government_fen)::bigint AS paid_government_fen
        FROM {S}.progress WHERE plan_year = :y AND county_code = :c {scope}
        GROUP BY {unit}, band"""), {"y": plan_year, "c": county_code, "t": township_code})
    return [dict(r._mapping) for r in rows]


async def targets(session: AsyncSession, county_code: str, plan_year: int) -> dict[str, int]:
    rows = await session.execute(text(
        f"SELECT township_code, target FROM {S}.targets WHERE county_code = :c AND plan_year = :y"
    ), {"c": county_code, "y": plan_year})
    return {r[0]: r[1] for r in rows}


async def daily_series(
    session: AsyncSession, county_code: str, plan_year: int, township_code: str | None
) -> list[tuple[dt.date, int]]:
    scope = "AND township_code = :t" if township_code else ""
    rows = await session.execute(text(f"""
        SELECT day, sum(paid)::int FROM {S}.progress_daily
        WHERE plan_year = :y AND county_code = :c {scope} GROUP BY day ORDER BY day"""),
        {"y": plan_year, "c": county_code, "t": township_code})
    return [(r[0], r[1]) for r in rows]


async def paid_on_day(
    session: AsyncSession, county_code: str, plan_year: int, day: dt.date
) -> dict[str, int]:
    rows = await session.execute(text(f"""
        SELECT township_code, sum(paid)::int FROM {S}.progress_daily
        WHERE plan_year = :y AND county_code = :c AND day = :d GROUP BY township_code"""),
        {"y": plan_year, "c": county_code, "d": day})
    return {r[0]: r[1] for r in rows}
