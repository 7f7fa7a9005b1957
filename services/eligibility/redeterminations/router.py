from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from services.eligibility.deps import JobsDep, RedeterminatorDep
from shared.auth import current_principal, require_region
from shared.params import RowIdPath

router = APIRouter(prefix="/v1/redeterminations", tags=["redeterminations"])


class RedeterminationJob(BaseModel):
    """重新认定任务 / a redetermination job (every column of the job is answered)."""

    model_config = ConfigDict(extra="allow")
    id: int
    region_code: str
    plan_year: int
    status: str = Field(description="queued | running | done | failed")
    processed: int = Field(description="已处理人数 / persons done")
    total: int | None = Field(description="总人数 / persons enrolled under the plan")
    changed: int = Field(description="结果变化的人数 / persons whose outcome changed")
    percent: float


class RedeterminationCreate(BaseModel):
    region_code: str = Field(pattern=r"^\d{6}$")
    plan_year: int = Field(ge=2000, le=2100)


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=None,
             responses={202: {"model": RedeterminationJob}})
async def start_redetermination(body: RedeterminationCreate, request: Request,
                                redeterminator: RedeterminatorDep,
                                jobs: JobsDep) -> dict[str, Any]:
    """Re-determine everyone enrolled under the region's plan for the year, in the background."""
    require_region(current_principal(request), body.region_code)
    job = await redeterminator.create(body.region_code, body.plan_year)
    jobs.start(job["id"])
    return job


@router.get("/{job_id}", response_model=None, responses={200: {"model": RedeterminationJob}})
async def redetermination_progress(job_id: RowIdPath,
                                   redeterminator: RedeterminatorDep) -> dict[str, Any]:
    return await redeterminator.get(job_id)  # type: ignore[no-any-return]
