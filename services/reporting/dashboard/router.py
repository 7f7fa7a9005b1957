"""督办 dashboard: townships with progress bars and ranking, daily chart, village drill-down."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from kernels.regions import load_regions
from services.reporting.deps import PlanCopiesDep, UnitOfWorkDep
from services.reporting.progress import service
from services.reporting.regions import Region, RegionDep
from services.reporting.templating import templates
from shared.auth import current_principal, wants_html
from shared.errors import NotFound

router = APIRouter(tags=["dashboard"])


def _ticks(top: int) -> list[int]:
    """0, a middle and the top of an axis, as whole people."""
    return sorted({0, top // 2, top}) if top > 1 else [0, max(top, 1)]


def daily_chart(daily: list[dict[str, Any]], end: dt.date | None = None, width: int = 760,
                height: int = 240) -> dict[str, Any]:
    """Bars for each day's payments and a line for the running total on a real time axis (one
    step per calendar day from the first payment to `end`, so a gap of two years looks like
    one), with labelled y axes: day counts on the left, the running total on the right."""
    pad_l, pad_r, pad_t, pad_b = 56, 60, 22, 40
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    base = {"width": width, "height": height, "pad_l": pad_l, "pad_t": pad_t,
            "inner_w": inner_w, "inner_h": inner_h, "base_y": pad_t + inner_h}
    if not daily:
        return {**base, "bars": [], "line": "", "labels": [], "left": [], "right": [],
                "max_day": 0, "max_total": 0}
    days = [dt.date.fromisoformat(d["day"]) for d in daily]
    first = days[0]
    last = max(days[-1], end or days[-1])
    span = (last - first).days + 1
    step = inner_w / span
    max_day = max(d["paid"] for d in daily) or 1
    max_total = daily[-1]["cumulative"] or 1

    def x_of(day: dt.date) -> float:
        return pad_l + (day - first).days * step

    def y_of(value: int, top: int) -> float:
        return pad_t + inner_h - inner_h * value / top

    bars, points = [], []
    for day, d in zip(days, daily, strict=True):
        h = inner_h * max(d["paid"], 0) / max_day
        bars.append({"x": round(x_of(day) + step * 0.15, 1), "y": round(pad_t + inner_h - h, 1),
                     "w": round(max(step * 0.7, 1), 1), "h": round(h, 1),
                     "title": f"{d['day']}：{d['paid']} 人"})
        points.append(f"{x_of(day) + step / 2:.1f},{y_of(d['cumulative'], max_total):.1f}")
    points.append(f"{x_of(last) + step:.1f},{y_of(max_total, max_total):.1f}")  # flat to `end`
    count = min(6, span)
    labels = []
    for i in range(count):
        day = first + dt.timedelta(days=round(i * (span - 1) / max(count - 1, 1)))
        labels.append({"x": round(x_of(day) + step / 2, 1),
                       "text": day.isoformat() if i in (0, count - 1) else day.isoformat()[5:]})
    left = [{"y": round(y_of(v, max_day), 1), "text": v} for v in _ticks(max_day)]
    right = [{"y": round(y_of(v, max_total), 1), "text": v} for v in _ticks(max_total)]
    return {**base, "bars": bars, "line": " ".join(points), "labels": labels, "left": left,
            "right": right, "max_day": max_day, "max_total": max_total,
            "first": first.isoformat(), "last": last.isoformat()}


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request, session: UnitOfWorkDep, region: RegionDep, plans: PlanCopiesDep,
    plan_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    as_of: dt.date | None = None,
) -> HTMLResponse:
    """The region asked for, else the caller's own; the newest plan year it has figures for
    unless one is asked for."""
    year = plan_year or await service.newest_plan_year(session, region)
    data = await service.progress(
        session, region=region, plan_year=year, as_of=as_of,
        plans=plans.catalog)
    totals = data["totals"]
    if not (totals["registered"] or totals["target"] or totals["paid"]):
        # nothing registered, no target: say so rather than draw an empty page that looks
        # like data (an unknown region or year); a page for a browser, the JSON error body
        # for a program, as every error
        if not wants_html(request):
            raise NotFound(f"{data.get('region_name') or region.code} {year} 年度没有数据",
                           code="no_figures")
        return templates.TemplateResponse(request, "dashboard_empty.html", {
            "data": data, "years": _years(year)}, status_code=404)
    return templates.TemplateResponse(request, "dashboard.html", {
        "counties": _counties(request),
        "data": data, "chart": daily_chart(data["daily"], dt.date.fromisoformat(data["as_of"])),
        "as_of_given": as_of is not None, "years": _years(year),
        "drill": data["level"] != "village",
        "parent_code": _parent(region),
    })


def _counties(request: Request) -> list[tuple[str, str]]:
    """The counties the viewer may pick: those inside the viewer's own city or province
    (none for a county or narrower viewer, who sees one county; none nationwide, too many)."""
    principal = current_principal(request)
    region = principal.region if principal.kind != "system" else None
    if not region or region == "000000" or not region.endswith("00") or len(region) != 6:
        return []
    tree = load_regions()
    if tree.get(region) is None:
        return []
    return [(r.code, r.name) for r in tree.descendants(region, level="county")][:200]


def _years(year: int) -> list[int]:
    """The plan years the picker offers: around the one shown, never past next year."""
    newest = dt.date.today().year + 1
    return [y for y in range(year - 3, min(year + 2, newest) + 1) if y >= 2000]


def _parent(region: Region) -> str | None:
    """The region one rank up, for the page's way back (None at a county or above)."""
    if region.rank == "village":
        return region.township_code
    if region.rank == "township":
        return region.county_code
    return None
