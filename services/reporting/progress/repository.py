"""Reads of the pre-aggregated counters (a few thousand rows per county, never raw rows).

Rows are grouped by a unit one rank below the region asked for (or the rank asked for):
province and city units are the leading digits of the county code, so a city's progress sums
its counties' counters with a range on the counters' primary key."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

import orjson
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


# the counters summed, each under its own name (what every reader of the counters selects)
SUMS = """sum(registered)::int AS registered, sum(settled)::int AS settled,
               sum(paid_person)::int AS paid_person,
               sum(paid_government)::int AS paid_government,
               sum(paid_person_fen)::bigint AS paid_person_fen,
               sum(paid_government_fen)::bigint AS paid_government_fen"""


def counter_rows(region: Region, level: Rank) -> tuple[str, str, dict[str, Any]]:
    """The live counters to sum for `region` at `level` (table, condition, parameters): the
    township rows (`progress_townships`, a few per township) unless villages are asked for or
    the region is one village, then the village x band rows (`progress`)."""
    if level == "village" or region.rank == "village":
        where, params = region.where()
        return "progress", where, params
    where, params = region.where(village=False)
    return "progress_townships", where, params


def _counters_sql(region: Region, level: Rank) -> tuple[str, dict[str, Any]]:
    table, where, params = counter_rows(region, level)
    return f"""
        SELECT {_UNIT[level]} AS code, band, {SUMS}
        FROM {S}.{table} WHERE plan_year = :y AND {where}
        GROUP BY 1, band""", params


def _counters_as_of_sql(region: Region, level: Rank) -> tuple[str, dict[str, Any]]:
    """`counters` as they stood at the end of day `:as_of`: the person-years as they stand
    now, each counted only by what had happened by then (registered on or before the day; the
    whole due covered, each payer's money arrived, on or before it). A registration without a
    date counts from the start; a due settled without any payment counts from registration."""
    where, params = region.where("p")
    return f"""
        WITH y AS (
            SELECT p.*, (SELECT e.registered_on FROM {S}.enrollments e
                         WHERE e.person_id = p.person_id AND e.plan_year = p.plan_year)
                        AS registered_on
            FROM {S}.person_years p WHERE p.plan_year = :y AND {where})
        SELECT {_UNIT[level]} AS code, band,
               count(*) FILTER (WHERE registered
                                AND coalesce(registered_on, :as_of) <= :as_of)::int AS registered,
               count(*) FILTER (WHERE settled
                                AND coalesce(settled_on, registered_on, :as_of) <= :as_of
                                )::int AS settled,
               count(*) FILTER (WHERE paid_person_on <= :as_of)::int AS paid_person,
               count(*) FILTER (WHERE paid_government_on <= :as_of)::int AS paid_government,
               coalesce(sum(paid_person_fen) FILTER (WHERE paid_person_on <= :as_of), 0
                        )::bigint AS paid_person_fen,
               coalesce(sum(paid_government_fen) FILTER (WHERE paid_government_on <= :as_of), 0
                        )::bigint AS paid_government_fen
        FROM y GROUP BY 1, band""", params


async def counters(session: AsyncSession, region: Region, plan_year: int, level: Rank
                   ) -> list[dict[str, Any]]:
    """The live counters per unit of `level` and band."""
    sql, params = _counters_sql(region, level)
    rows = await session.execute(text(sql), {"y": plan_year, **params})
    return [dict(r._mapping) for r in rows]


async def counters_as_of(session: AsyncSession, region: Region, plan_year: int, level: Rank,
                         day: dt.date) -> list[dict[str, Any]]:
    """The counters per unit of `level` and band as they stood at the end of `day`."""
    sql, params = _counters_as_of_sql(region, level)
    rows = await session.execute(text(sql), {"y": plan_year, "as_of": day, **params})
    return [dict(r._mapping) for r in rows]


# the figures' statement, made once per form (region rank x level x live): parsing its text
# again cost a tenth of a millisecond per view
_statement = functools.lru_cache(maxsize=128)(text)


@dataclass(frozen=True)
class Figures:
    """Everything a progress view shows, read in one statement (one snapshot)."""

    units: dict[str, dict[str, int]]  # per unit: the PROGRESS sums
    bands: dict[str, dict[str, int]]  # per band: the same sums
    targets: dict[str, int]  # per unit (none for villages)
    total_target: int  # the region's whole target (0: none set)
    daily: list[dict[str, Any]]  # days anyone settled, up to as_of: day, paid, cumulative
    today: dict[str, int]  # per unit (townships for a village view): settled on as_of


async def figures(session: AsyncSession, region: Region, plan_year: int, level: Rank,
                  as_of: dt.date, *, live: bool) -> Figures:
    """The figures of `region` per unit of `level` at the end of `as_of`; `live`: from the
    live counters (as_of is today), else recomputed from the person-years.

    One statement, summed per unit and per band by the database (GROUPING SETS). Targets are
    set per township and the daily series is kept per township (a village's own is not
    known), so a village region has neither."""
    counters_sql, params = (_counters_sql if live else _counters_as_of_sql)(region, level)
    where, wider = region.where(village=False)
    params = {**wider, **params, "y": plan_year, "as_of": as_of}
    per_day = "township" if level == "village" else level
    empty_map, empty_list = "'{}'::json", "'[]'::json"
    village = region.rank == "village"
    targets = empty_map if level == "village" else f"""(
        SELECT json_object_agg(u, t) FROM (
            SELECT {_UNIT[level]} AS u, sum(target)::int AS t FROM {S}.targets
            WHERE plan_year = :y AND {where} GROUP BY 1) x)"""
    total = "0" if village else f"""(
        SELECT sum(target)::int FROM {S}.targets WHERE plan_year = :y AND {where})"""
    daily = empty_list if village else f"""(
        SELECT json_agg(json_build_object('day', day, 'paid', paid,
                                          'cumulative', cumulative) ORDER BY day)
        FROM (SELECT day, paid, sum(paid) OVER (ORDER BY day)::int AS cumulative FROM (
                SELECT day, sum(paid)::int AS paid FROM {S}.progress_daily
                WHERE plan_year = :y AND day <= :as_of AND {where} GROUP BY day) d
              WHERE paid <> 0) x)"""
    today = empty_map if village else f"""(
        SELECT json_object_agg(u, paid) FROM (
            SELECT {_UNIT[per_day]} AS u, sum(paid)::int AS paid FROM {S}.progress_daily
            WHERE plan_year = :y AND day = :as_of AND {where} GROUP BY 1) x)"""
    row = (await session.execute(_statement(f"""
        SELECT (SELECT json_agg(g) FROM (
                    SELECT grouping(code) AS per_band, code, band, {SUMS}
                    FROM ({counters_sql}) c GROUP BY GROUPING SETS ((code), (band))) g)::text,
               {targets}::text, coalesce({total}, 0), {daily}::text, {today}::text"""),
        params)).one()
    units: dict[str, dict[str, int]] = {}
    bands: dict[str, dict[str, int]] = {}
    for sums in orjson.loads(row[0] or "[]"):
        if sums.pop("per_band"):
            sums.pop("code")
            bands[sums.pop("band")] = sums
        else:
            sums.pop("band")
            units[sums.pop("code")] = sums
    return Figures(units=units, bands=bands, targets=orjson.loads(row[1] or "{}"),
                   total_target=row[2], daily=orjson.loads(row[3] or "[]"),
                   today=orjson.loads(row[4] or "{}"))


async def newest_plan_year(session: AsyncSession, region: Region) -> int | None:
    where, params = region.where()
    row = await session.execute(text(
        f"SELECT max(plan_year) FROM {S}.progress WHERE {where}"), params)
    return row.scalar()
