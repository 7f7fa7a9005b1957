from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from kernels.codes import BudgetLine
from services.payments.proxy.service import ProxyBatchService, ProxyLine
from services.payments.scope import require_persons_in_region
from shared.auth import current_principal
from shared.db import SessionDep

router = APIRouter(prefix="/v1/proxy-batches", tags=["proxy payments"])



class ProxyRowIn(BaseModel):
    person_id: uuid.UUID
    amount_fen: int = Field(gt=0, strict=True)


class ProxyBatchCreate(BaseModel):
    batch_no: str = Field(min_length=1, max_length=64)
    budget_line: BudgetLine
    plan_year: int = Field(ge=2000, le=2100)
    declared_count: int = Field(ge=1)
    declared_total_fen: int = Field(ge=1, strict=True)
    rows: list[ProxyRowIn] = Field(min_length=1, max_length=200_000)
    paid_on: dt.date | None = Field(
        None, description="the day the budget line actually paid (Beijing date); it decides "
        "whether each person's subsidy is paid on time or late. Not in the future, not before "
        "the plan year's collection opened. Default: the day the batch is recorded")


@router.post("", status_code=status.HTTP_201_CREATED,
             summary="Record a budget line's proxy payment (代缴) for a list of persons")
async def record_batch(body: ProxyBatchCreate, request: Request,
                       session: SessionDep) -> dict[str, Any]:
    state = request.app.state
    async with session.begin():
        # a budget line of a county pays for people of that county only
        await require_persons_in_region(session, current_principal(request),
                                        (r.person_id for r in body.rows))
        return await ProxyBatchService(session, state.runtime.outbox, state.coverage).record(
            batch_no=body.batch_no, budget_line=body.budget_line, plan_year=body.plan_year,
            declared_count=body.declared_count, declared_total_fen=body.declared_total_fen,
            lines=[ProxyLine(r.person_id, r.amount_fen) for r in body.rows],
            paid_on=body.paid_on)
