"""Progress against the task per township or village, per band, ranked, with a daily series."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.names import region_name
from services.reporting.plans import plan_for
from services.reporting.progress import repository as repo
from services.reporting.projections.state import BAND_NAMES_ZH, BANDS, CHINA
from shared.errors import Invalid

Level = Literal["township", "village"]


def percent(part: int, whole: int | None) -> float | None:
    if not whole:
        return None
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP))


def today_in_china() -> dt.date:
    return dt.datetime.now(CHINA).date()


async def progress(
    session: AsyncSession, *, county_code: str, plan_year: int, level: Level = "township",
    township_code: str | None = None, as_of: dt.date | None = None,
    policies_dir: str | None = None,
) -> dict[str, Any]:
    if level == "village" and not township_code:
        raise Invalid("level=village needs township_code", field="township_code")
    scope_township = township_code if level == "village" else None
    as_of = as_of or today_in_china()
    counters = await repo.counters(session, county_code, plan_year, scope_township)
    targets = await repo.targets(session, county_code, plan_year)
    series = dict(await repo.daily_series(session, county_code, plan_year, township_code))
    today_by_township = await repo.paid_on_day(session, county_code, plan_year, as_of)
    plan = plan_for(county_code, plan_year, policies_dir)

    units: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    bands: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in counters:
        for key in ("registered", "paid_person", "paid_government", "paid_person_fen",
                    "paid_government_fen"):
            units[row["code"]][key] += row[key]
            bands[row["band"]][key] += row[key]

    if level == "township":
        for town in targets:
            units.setdefault(town, defaultdict(int))
    rows = []
    for code, c in units.items():
        paid = c["paid_person"] + c["paid_government"]
        target = targets.get(code) if level == "township" else None
        if not (paid or c["registered"] or target):
            continue  # counters that went up and back to zero
        rows.append({
            "code": code, "name": region_name(code), "target": target,
            "registered": c["registered"], "paid": paid, "paid_person": c["paid_person"],
            "paid_government": c["paid_government"],
            "paid_person_fen": c["paid_person_fen"],
            "paid_government_fen": c["paid_government_fen"],
            "rate": percent(paid, target) if target else percent(paid, c["registered"]),
            "rate_basis": "target" if target else "registered",
            "registered_rate": percent(c["registered"], target),
            "change_since_yesterday": today_by_township.get(code, 0)
            if level == "township" else None,
        })
    rows.sort(key=lambda r: (-(r["rate"] or 0), -r["paid"], r["code"]))
    for i, row in enumerate(rows, start=1):
        row["rank"] = i

    target_by_band = {t.band: t for t in plan.target_rates} if plan else {}
    categories = []
    for band in BANDS:
        if band not in bands:
            continue
        c = bands[band]
        paid = c["paid_person"] + c["paid_government"]
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

    cumulative = 0
    daily_rows = []
    for day in sorted(series):
        if not series[day]:
            continue
        cumulative += series[day]
        daily_rows.append({"day": day.isoformat(), "paid": series[day], "cumulative": cumulative})

    total_target = sum(targets.get(r["code"], 0) for r in rows) if level == "township" else (
        targets.get(township_code or "") or None)
    registered = sum(r["registered"] for r in rows)
    paid_total = sum(r["paid"] for r in rows)
    overall = target_by_band.get("overall")
    return {
        "county_code": county_code, "county_name": region_name(county_code),
        "plan_year": plan_year, "level": level, "township_code": township_code,
        "as_of": as_of.isoformat(),
        "totals": {
            "target": total_target or None, "registered": registered, "paid": paid_total,
            "paid_person": sum(r["paid_person"] for r in rows),
            "paid_government": sum(r["paid_government"] for r in rows),
            "rate": percent(paid_total, total_target) if total_target
            else percent(paid_total, registered),
            "payment_rate": percent(paid_total, registered),
            "target_percent": float(overall.percent) if overall else None,
            "change_since_yesterday": today_by_township.get(township_code, 0)
            if township_code else sum(today_by_township.values()),
        },
        "rows": rows,
        "categories": categories,
        "daily": daily_rows,
        "plan": {
            "region_code": plan.region_code, "region_name": plan.region_name,
            "target_rates": [{"band": t.band, "percent": float(t.percent),
                              "population": t.population} for t in plan.target_rates],
        } if plan else None,
    }
