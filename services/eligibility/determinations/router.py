from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request

from kernels.policy.trace import localized
from services.eligibility.deps import DeterminationRepositoryDep, PlansDep
from services.eligibility.determinations.preview import preview
from services.eligibility.determinations.schemas import PreviewRequest, PreviewResponse
from services.eligibility.plans.registry import PlanRegistry
from shared.auth import current_principal
from shared.errors import NotFound
from shared.i18n import request_language
from shared.params import PlanYearPath

router = APIRouter(prefix="/v1/determinations", tags=["determinations"])


@router.post("/preview", response_model=PreviewResponse)
async def preview_determination(body: PreviewRequest, request: Request,
                                plans: PlansDep) -> dict[str, Any]:
    """What a person would owe under the plan for a region and year, who pays the rest, and why:
    for a payment on `paid_on` (else on time), decided by the engine's owed_on as the bill and
    matching decide it, with both outcomes (`on_time_until`, `payable_until`, `late`). 409
    `plan_year_closed` when the plan year takes no payment on `paid_on` any more.

    Stateless: nothing is stored. The region may be a county under a city's or province's plan.
    """
    return preview(plans.catalog, body, request_language(request))


def _in_language(plans: PlanRegistry, row: dict[str, Any], plan_year: int,
                 lang: str) -> dict[str, Any]:
    """A stored determination's trace and assumptions in the reader's language."""
    row = dict(row)
    trace = row.get("trace")
    if isinstance(trace, list):
        row["trace"] = localized(trace, lang)
    policy = plans.catalog.find(row.get("region_code") or "", plan_year)
    if policy is not None and policy.version == row.get("policy_version") \
            and isinstance(row.get("assumptions"), list):
        row["assumptions"] = policy.assumptions_in(row["assumptions"], lang)
    return row


@router.get("/{person_id}/{plan_year}")
async def person_determinations(person_id: uuid.UUID, plan_year: PlanYearPath,
                                request: Request, repo: DeterminationRepositoryDep,
                                plans: PlansDep) -> dict[str, Any]:
    """The current determination of a person for a plan year and every earlier one. A person
    registered outside the caller's region answers 404 determination_not_found, as one
    without a determination does."""
    principal = current_principal(request)
    not_found = NotFound(f"no determination for person {person_id} and plan year {plan_year}",
                         code="determination_not_found")
    if not principal.sees_all_regions:
        region = await repo.person_region(person_id, plan_year)
        if region is None or not principal.can_see_region(region):
            raise not_found
    lang = request_language(request)
    history = [_in_language(plans, row, plan_year, lang)
               for row in await repo.history(person_id, plan_year)]
    pending = await repo.pending(person_id, plan_year)
    if not history and pending is None:
        raise not_found
    return {
        "person_id": str(person_id), "plan_year": plan_year,
        "current": history[0] if history else None,
        "pending_plan": {"county_code": pending["county_code"],
                         "since": pending["since"].isoformat(),
                         "reason": "此地区该年度尚未加载实施方案" if lang != "en"
                         else "no plan is loaded for this region and plan year"}
        if pending else None,
        "history": history,
    }
