"""Progress against the task per township or village, per band, ranked, with a daily series."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kernels.policy import PolicyCatalog
from kernels.regions import load_regions
from services.reporting.names import names_for
from services.reporting.plans import plan_for
from services.reporting.progress import repository as repo
from services.reporting.projections.state import BAND_NAMES_ZH, BANDS, CHINA, PROGRESS_COLUMNS
from services.reporting.regions import RANK_NAMES_ZH, RANKS, Rank, Region
from shared.errors import Invalid


def percent(part: int, whole: int | None) -> float | None:
    """part / whole in percent, two decimals, halves rounded away from zero (in integers:
    exact, and the float of n/100 is the float of the decimal it rounds to)."""
    if not whole:
        return None
    hundredths, rest = divmod(abs(part) * 10000, abs(whole))
    hundredths += 2 * rest >= abs(whole)
    return (hundredths if (part < 0) == (whole < 0) else -hundredths) / 100


def today_in_china() -> dt.date:
    return dt.datetime.now(CHINA).date()


def _townships_of(county_code: str) -> list[str]:
    tree = load_regions()
    if tree.get(county_code) is None:
        return []
    return [r.code for r in tree.children(county_code) if r.level == "township"]


def check_as_of(as_of: dt.date, today: dt.date, campaign_start: dt.date | None,
                plan_year: int) -> None:
    """422 for a day the figures cannot be given for: after today (Beijing), or before the
    plan year's collection opened."""
    if as_of > today:
        raise Invalid(f"as_of {as_of} is in the future", field="as_of", key="as_of_in_future",
                      params={"as_of": as_of.isoformat(), "today": today.isoformat()})
    if campaign_start is not None and as_of < campaign_start:
        raise Invalid(f"as_of {as_of} is before the campaign", field="as_of",
                      key="as_of_before_campaign",
                      params={"as_of": as_of.isoformat(), "start": campaign_start.isoformat(),
                              "plan_year": plan_year})


async def newest_plan_year(session: AsyncSession, region: Region) -> int:
    """The newest plan year with counters in the region, else the current calendar year."""
    return await repo.newest_plan_year(session, region) or today_in_china().year


async def progress(
    session: AsyncSession, *, region: Region, plan_year: int, level: Rank | None = None,
    as_of: dt.date | None = None, plans: PolicyCatalog | None = None,
) -> dict[str, Any]:
    """Progress of `region` with one row per unit of `level` (default: one rank below the
    region; a city's rows are its counties, a county's its townships, a township's its
    villages). `paid` counts people whose whole due is covered; `paid_person` and
    `paid_government` count the people each payer paid for (one person may be in both)."""
    level = level or region.child_rank
    if RANKS.index(level) < RANKS.index(region.rank) or level == "nation":
        raise Invalid(f"level {level} 比所查区域（{RANK_NAMES_ZH[region.rank]}）更大",
                      field="level", key="level_too_wide", params={"level": level})
    today_date = today_in_china()
    as_of = as_of or today_date
    plan = plan_for(region.code[:6], plan_year, plans) if region.rank != "nation" else None
    check_as_of(as_of, today_date, plan.collection_start if plan else None, plan_year)
    # today: the live counters; an earlier day: everything as it stood at the end of that day
    figures = await repo.figures(session, region, plan_year, level, as_of,
                                 live=as_of >= today_date)
    targets, today, total_target = figures.targets, figures.today, figures.total_target
    units, bands = figures.units, figures.bands

    for unit in targets:
        units.setdefault(unit, dict.fromkeys(PROGRESS_COLUMNS, 0))
    # every township of a county is listed, even one with no target and nobody registered yet
    # (listed apart, unranked): a missing row must not look like a finished one
    listed = set(_townships_of(region.code)) if level == "township" and \
        region.rank == "county" else set()
    for unit in listed:
        units.setdefault(unit, dict.fromkeys(PROGRESS_COLUMNS, 0))
    names = await names_for(session, [region.code, *units])
    rows = []
    for code, c in units.items():
        paid = c["settled"]
        target = targets.get(code)
        if not (paid or c["registered"] or target or c["paid_person"] or c["paid_government"]
                or code in listed):
            continue  # counters that went up and back to zero
        rows.append({
            "code": code, "name": names[code], "target": target,
            "registered": c["registered"], "paid": paid, "paid_person": c["paid_person"],
            "paid_government": c["paid_government"],
            "paid_person_fen": c["paid_person_fen"],
            "paid_government_fen": c["paid_government_fen"],
            "rate": percent(paid, target) if target else percent(paid, c["registered"]),
            "rate_basis": "target" if target else "registered",
            "registered_rate": percent(c["registered"], target),
            "change_since_yesterday": today.get(code, 0) if level != "village" else None,
        })
    # one ranking basis: paid against the target; units without a target are listed apart,
    # after the ranked ones, unranked (their rate is paid against registered, for reference)
    rows.sort(key=lambda r: (r["rate_basis"] != "target", -(r["rate"] or 0), -r["paid"],
                             r["code"]))
    ranked = [r for r in rows if r["rate_basis"] == "target"]
    for i, row in enumerate(rows, start=1):
        row["rank"] = i if row["rate_basis"] == "target" else None
    unranked = len(rows) - len(ranked)

    target_by_band = {t.band: t for t in plan.target_rates} if plan else {}
    categories = []
    for band in BANDS:
        if band not in bands:
            continue
        c = bands[band]
        paid = c["settled"]
        if not (paid or c["registered"]):
            continue
        goal = target_by_band.get(band) or target_by_band.get("overall")
        rate = percent(paid, c["registered"])
        categories.append({
            "band": band, "name": BAND_NAMES_ZH[band], "registered": c["registered"],
            "paid": paid, "rate": rate,
            "target_percent": float(goal.percent) if goal else None,
            "meets_target": (rate is not None and rate >= float(goal.percent)) if goal else None,
        })

    registered = sum(r["registered"] for r in rows)
    paid_total = sum(r["paid"] for r in rows)
    overall = target_by_band.get("overall")
    county = region.county_code or region.code
    return {
        "region_code": region.code, "region_name": names[region.code], "rank": region.rank,
        "county_code": county, "county_name": names[county],
        "township_code": region.township_code, "village_code": region.village_code,
        "plan_year": plan_year, "level": level, "as_of": as_of.isoformat(),
        "totals": {
            "target": total_target or None, "registered": registered, "paid": paid_total,
            "paid_person": sum(r["paid_person"] for r in rows),
            "paid_government": sum(r["paid_government"] for r in rows),
            "paid_person_fen": sum(r["paid_person_fen"] for r in rows),
            "paid_government_fen": sum(r["paid_government_fen"] for r in rows),
            "rate": percent(paid_total, total_target) if total_target
            else percent(paid_total, registered),
            "payment_rate": percent(paid_total, registered),
            "target_percent": float(overall.percent) if overall else None,
            "change_since_yesterday": sum(today.values()) if region.rank != "village" else None,
        },
        "rows": rows,
        "unranked": unranked,
        "categories": categories,
        "daily": figures.daily,
        "plan": {
            "region_code": plan.region_code, "region_name": plan.region_name,
            "target_rates": [{"band": t.band, "percent": float(t.percent),
                              "population": t.population} for t in plan.target_rates],
        } if plan else None,
    }
