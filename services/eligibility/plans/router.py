from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from services.eligibility.plans.registry import PlanRegistry, source_of
from shared.db import SessionDep
from shared.errors import NotFound
from shared.params import PlanYearPath

router = APIRouter(prefix="/v1/plans", tags=["plans"])


def _registry(request: Request) -> PlanRegistry:
    return request.app.state.plans  # type: ignore[no-any-return]


@router.get("")
async def list_plans(request: Request, session: SessionDep) -> dict[str, Any]:
    """Every plan version ever loaded; `active` marks the one in force for its region and year."""
    registry = _registry(request)
    rows = (await session.execute(text(
        "SELECT version, region_code, plan_year, source, loaded_at FROM eligibility.policies "
        "ORDER BY region_code, plan_year, loaded_at"))).mappings().all()
    active = {p.version for p in registry.catalog}
    return {"plans": [
        {"region_code": r["region_code"], "plan_year": r["plan_year"], "version": r["version"],
         "source": r["source"], "loaded_at": r["loaded_at"].isoformat(),
         "active": r["version"] in active}
        for r in rows
    ]}


@router.get("/{region_code}/{plan_year}")
async def get_plan(region_code: str, plan_year: PlanYearPath, request: Request) -> dict[str, Any]:
    """The plan that applies to a region (its own, its city's or its province's) and year."""
    policy = _registry(request).find(region_code, plan_year)
    if policy is None:
        raise NotFound(f"no plan for region {region_code} and plan year {plan_year}",
                       params={"region_code": region_code, "plan_year": plan_year},
                       code="plan_not_found")
    return {
        "region_code": policy.region_code, "region_name": policy.region_name,
        "requested_region_code": region_code, "plan_year": policy.plan_year,
        "version": policy.version, "source": source_of(policy), "content": policy.raw,
    }
