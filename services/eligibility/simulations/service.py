"""What-if: a draft plan run against the registered population, next to the plan in force.

Nothing is written and nothing is published."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncEngine

from kernels.policy import PolicyFileError, parse_policy
from services.eligibility.plans.registry import PlanRegistry
from services.eligibility.redeterminations.population import (
    compute,
    counties_of,
    read_chunk,
    summarize,
)
from shared.auth import Principal, require_region
from shared.errors import Invalid


def _difference(draft: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    lines = set(draft["budget_lines"]) | set(current["budget_lines"])
    zero = {"headcount": 0, "amount_fen": 0}
    return {
        "personal_fen": draft["personal_fen"] - current["personal_fen"],
        "budget_lines": {
            line: {k: draft["budget_lines"].get(line, zero)[k]
                   - current["budget_lines"].get(line, zero)[k] for k in zero}
            for line in sorted(lines)
        },
    }


def _changed_people(draft: Any, current: Any, chunk: Any, out: list[dict[str, Any]],
                    limit: int) -> int:
    """Add (up to `limit` in all) the people of the chunk whose own contribution differs;
    returns how many differ in the chunk."""
    d_pay = np.where(draft.enrolled, draft.personal, 0)
    c_pay = np.where(current.enrolled, current.personal, 0)
    idx = np.nonzero(d_pay != c_pay)[0]
    for i in idx[:max(0, limit - len(out))]:
        out.append({"person_id": str(chunk.person_ids[i]), "township_code": chunk.township[i],
                    "current_personal_fen": int(c_pay[i]), "draft_personal_fen": int(d_pay[i]),
                    "difference_fen": int(d_pay[i] - c_pay[i])})
    return len(idx)


async def simulate(engine: AsyncEngine, plans: PlanRegistry, plan: str | dict[str, Any],
                   chunk_size: int = 200_000, *,
                   principal: Principal | None = None,
                   people_limit: int = 0) -> dict[str, Any]:
    """`principal`: the caller, who may only simulate a plan for a region inside their own
    (the answer counts people and money per township). `people_limit`: list up to this many
    people whose own contribution changes (person id, township, both amounts); always counted."""
    try:
        draft = parse_policy(plan, "draft plan")
    except PolicyFileError as exc:
        error = Invalid(f"plan：草案方案有误：{'；'.join(exc.problems)}", field="plan",
                        code="invalid_plan", params={"problems": "；".join(exc.problems)})
        error.details["problems"] = list(exc.problems)
        raise error from None
    if principal is not None:
        require_region(principal, draft.region_code)
    started = time.perf_counter()
    region, year = draft.region_code, draft.plan_year
    current = plans.find(region, year)
    if current is not None and current.region_code != region:
        current = None  # the draft would be the region's own plan; there is none today
    population_year, basis = year, None
    if plans.find(region, year) is None:
        # next year's draft: no plan in force for its year yet. Compare with the region's
        # latest plan before it, over that year's enrolled population.
        previous = plans.catalog.latest_before(region, year)
        if previous is not None:
            current, population_year = previous, previous.plan_year
            basis = (f"{year}年度尚无在用方案：草案与{previous.region_name}{previous.plan_year}"
                     f"年度在用方案（版本 {previous.short_version}）比较，人群为"
                     f"{previous.plan_year}年度已登记参保的人员（出生日期、身份按其登记；"
                     f"年龄与期间按草案的{year}年度计算）")
    catalog = plans.catalog if population_year != year else plans.catalog.with_policy(draft)
    totals: dict[str, dict[str, Any]] = {"draft": {}, "current": {}}
    async with engine.connect() as conn:
        apg = (await conn.get_raw_connection()).driver_connection
        counties = await counties_of(apg, catalog, region, population_year)
        after = None
        population = 0
        people: list[dict[str, Any]] = []
        changed_count = 0
        while True:
            chunk = await read_chunk(apg, population_year, counties, after, chunk_size,
                                     registered_only=True)
            if chunk is None:
                break
            population += len(chunk)
            d_res = compute(draft, chunk)
            summarize(d_res, chunk.township, totals["draft"])
            if current is not None:
                c_res = compute(current, chunk)
                summarize(c_res, chunk.township, totals["current"])
                changed_count += _changed_people(d_res, c_res, chunk, people, people_limit)
            after = chunk.person_ids[-1]
    empty = {"headcount": 0, "standard_fen": 0, "personal_fen": 0, "surcharge_fen": 0,
             "budget_lines": {}}
    d_total = totals["draft"].get("total", empty)
    c_total = totals["current"].get("total", empty) if current is not None else None
    townships = []
    for code in sorted(totals["draft"].get("townships", {})):
        d = totals["draft"]["townships"][code]
        c = totals["current"].get("townships", {}).get(code) if current is not None else None
        townships.append({"township_code": code or None, "draft": d, "current": c,
                          "difference": _difference(d, c) if c else None})
    return {
        "region_code": region, "plan_year": year, "draft_version": draft.version,
        "current_version": current.version if current is not None else None,
        "current_plan_year": current.plan_year if current is not None else None,
        "population_year": population_year, "basis": basis,
        "counties": counties, "population": population,
        "draft": d_total, "current": c_total,
        "difference": _difference(d_total, c_total) if c_total else None,
        "townships": townships,
        "people_changed": changed_count if current is not None else None,
        "people": people,
        "seconds": round(time.perf_counter() - started, 3),
    }
