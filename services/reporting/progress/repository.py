"""Reads of the pre-aggregated counters (a few thousand rows per county, never raw rows).

Rows are grouped by a unit one rank below the region asked for (or the rank asked for):
province and city units are the leading digits of the county code, so a city's progress sums
its counties' counters with a range on the counters' primary key."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.regions import Rank, Region

S = "reporting"

_UNIT = {
    "province": "left(county_code, 2) || '0000'",
    "city": "left(county_code, 4) || '00'",
    "county": "county_code",
    "township": "township_code",
    "village": "village_code",
}


def unit_sql(level: Rank) -> str:
    return _UNIT[level]


async def counters(session: AsyncSession, region: Region, plan_year: int, level: Rank
                   ) -> list[dict[str, Any]]:
    where, params = region.where()
    rows = await session.execute(text(f"""
        SELECT {_UNIT[level]} AS code, band, sum(registered)::int AS registered,
               sum(settled)::int AS settled,
               sum(paid_person)::int AS paid_person,
               sum(paid_government)::int AS paid_government,
               sum(paid_person_fen)::bigint AS paid_person_fen,
               sum(paid_government_fen)::bigint AS paid_government_fen
        FROM {S}.progress WHERE plan_year = :y AND {where}
        GROUP BY 1, band"""), {"y": plan_year, **params})
    keys = tuple(rows.keys())  # dicts made from plain tuples (Row._mapping costs per row)
    return [dict(zip(keys, r, strict=True)) for r in rows]


async def counters_as_of(session: AsyncSession, region: Region, plan_year: int, level: Rank,
                         day: dt.date) -> list[dict[str, Any]]:
    """`counters` as they stood at the end of `day`: the person-years as they stand now,
    each counted only by what had happened by then (registered on or before the day; the
    whole due covered, each payer's money arrived, on or before it). A registration without a
    date counts from the start; a due settled without any payment counts from registration."""
    where, params = region.where("p")
    rows = await session.execute(text(f"""
        WITH y AS (
            SELECT p.*, (SELECT e.registered_on FROM {S}.enrollments e
                         WHERE e.person_id = p.person_id AND e.plan_year = p.plan_year)
                        AS registered_on
            FROM {S}.person_years p WHERE p.plan_year = :y AND {where})
        SELECT {_UNIT[level]} AS code, band,
               count(*) FILTER (WHERE registered
                                AND coalesce(registered_on, :d) <= :d)::int AS registered,
               count(*) FILTER (WHERE settled AND coalesce(settled_on, registered_on, :d) <= :d
                                )::int AS settled,
               count(*) FILTER (WHERE paid_person_on <= :d)::int AS paid_person,
               count(*) FILTER (WHERE paid_government_on <= :d)::int AS paid_government,
               coalesce(sum(paid_person_fen) FILTER (WHERE paid_person_on <= :d), 0)::bigint
                   AS paid_person_fen,
               coalesce(sum(paid_government_fen) FILTER (WHERE paid_government_on <= :d), 0
                        )::bigint AS paid_government_fen
        FROM y GROUP BY 1, band"""), {"y": plan_year, "d": day, **params})
    return [dict(r._mapping) for r in rows]


async def targets(session: AsyncSession, region: Region, plan_year: int, level: Rank
                  ) -> dict[str, int]:
    """Targets are set per township: summed per unit (none for villages)."""
    if level == "village":
        return {}
    where, params = region.where(village=False)
    rows = await session.execute(text(f"""
        SELECT {_UNIT[level]}, sum(target)::int FROM {S}.targets
        WHERE plan_year = :y AND {where} GROUP BY 1"""), {"y": plan_year, **params})
    return {r[0]: r[1] for r in rows}


async def daily_series(session: AsyncSession, region: Region, plan_year: int
                       ) -> list[tuple[dt.date, int]]:
    """Kept per township: a village's own series is not known (none is given)."""
    if region.rank == "village":
        return []
    where, params = region.where(village=False)
    rows = await session.execute(text(f"""
        SELECT day, sum(paid)::int FROM {S}.progress_daily
        WHERE plan_year = :y AND {where} GROUP BY day ORDER BY day"""),
        {"y": plan_year, **params})
    return [(r[0], r[1]) for r in rows]


async def paid_on_day(session: AsyncSession, region: Region, plan_year: int, day: dt.date,
                      level: Rank) -> dict[str, int]:
    if level == "village" or region.rank == "village":
        return {}
    where, params = region.where(village=False)
    rows = await session.execute(text(f"""
        SELECT {_UNIT[level]}, sum(paid)::int FROM {S}.progress_daily
        WHERE plan_year = :y AND day = :d AND {where} GROUP BY 1"""),
        {"y": plan_year, "d": day, **params})
    return {r[0]: r[1] for r in rows}


async def newest_plan_year(session: AsyncSession, region: Region) -> int | None:
    where, params = region.where()
    row = await session.execute(text(
        f"SELECT max(plan_year) FROM {S}.progress WHERE {where}"), params)
    return row.scalar()
