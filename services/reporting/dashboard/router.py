"""督办 dashboard: townships with progress bars and ranking, daily chart, village drill-down."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.reporting.progress import service
from services.reporting.regions import Region, RegionDep
from services.reporting.templating import templates
from shared.db import SessionDep

router = APIRouter(tags=["dashboard"])


def daily_chart(daily: list[dict[str, Any]], width: int = 760, height: int = 220) -> dict[str, Any]:
    """Bars for each day's payments and a line for the running total, as SVG coordinates."""
    pad_l, pad_r, pad_t, pad_b = 56, 56, 16, 28
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    if not daily:
        return {"width": width, "height": height, "bars": [], "line": "", "ticks": [],
                "labels": [], "max_day": 0, "max_total": 0}
    max_day = max(d["paid"] for d in daily) or 1
    max_total = daily[-1]["cumulative"] or 1
    step = inner_w / len(daily)
    bars, points, labels = [], [], []
    every = max(1, len(daily) // 8)
    for i, d in enumerate(daily):
        x = pad_l + i * step
        h = inner_h * max(d["paid"], 0) / max_day
        bars.append({"x": round(x + step * 0.15, 1), "y": round(pad_t + inner_h - h, 1),
                     "w": round(max(step * 0.7, 1), 1), "h": round(h, 1),
                     "title": f"{d['day']}: {d['paid']}"})
        y = pad_t + inner_h - inner_h * d["cumulative"] / max_total
        points.append(f"{x + step / 2:.1f},{y:.1f}")
        if i % every == 0:
            labels.append({"x": round(x + step / 2, 1), "text": d["day"][5:]})
    return {"width": width, "height": height, "bars": bars, "line": " ".join(points),
            "labels": labels, "max_day": max_day, "max_total": max_total,
            "pad_l": pad_l, "pad_t": pad_t, "inner_w": inner_w, "inner_h": inner_h,
            "base_y": pad_t + inner_h}


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request, session: SessionDep, region: RegionDep,
    plan_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    as_of: dt.date | None = None,
) -> HTMLResponse:
    """The region asked for, else the caller's own; the newest plan year it has figures for
    unless one is asked for."""
    year = plan_year or await service.newest_plan_year(session, region)
    data = await service.progress(
        session, region=region, plan_year=year, as_of=as_of,
        plans=request.app.state.plans.catalog)
    return templates.TemplateResponse(request, "dashboard.html", {
        "data": data, "chart": daily_chart(data["daily"]),
        "drill": data["level"] != "village",
        "parent_code": _parent(region),
    })


def _parent(region: Region) -> str | None:
    """The region one rank up, for the page's way back (None at a county or above)."""
    if region.rank == "village":
        return region.township_code
    if region.rank == "township":
        return region.county_code
    return None
