from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.eligibility.deps import EngineDep, PlansDep
from services.eligibility.simulations.service import simulate
from shared.auth import current_principal

router = APIRouter(prefix="/v1/simulations", tags=["simulations"])


class SimulationRequest(BaseModel):
    plan: str | dict[str, Any] = Field(
        description="the draft plan: YAML text, or the same content as JSON; checked against "
                    "the policy file schema")


@router.post("")
async def run_simulation(body: SimulationRequest, request: Request, engine: EngineDep,
                         plans: PlansDep) -> dict[str, Any]:
    """Headcount and money per budget line and per township under a draft plan, against the plan
    in force; nothing is stored or published."""
    return await simulate(engine, plans, body.plan,
                          principal=current_principal(request))
