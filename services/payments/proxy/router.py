from __future__ import annotations

from fastapi import APIRouter, status

from services.payments.deps import ProxyServiceDep
from services.payments.proxy.schemas import ProxyBatch, ProxyBatchCreate
from services.payments.proxy.service import ProxyLine

router = APIRouter(prefix="/v1/proxy-batches", tags=["proxy payments"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProxyBatch,
             summary="Record a budget line's proxy payment (代缴) for a list of persons")
async def record_batch(body: ProxyBatchCreate, service: ProxyServiceDep) -> ProxyBatch:
    """Rejected as a whole (422 `proxy_batch_rejected`, a reason per row) when a row does not
    match what the budget line pays; a budget line of a county pays for people of that county
    only (403 `forbidden_region`)."""
    recorded = await service.record(
        batch_no=body.batch_no, budget_line=body.budget_line, plan_year=body.plan_year,
        declared_count=body.declared_count, declared_total_fen=body.declared_total_fen,
        lines=[ProxyLine(r.person_id, r.amount_fen) for r in body.rows], paid_on=body.paid_on)
    return ProxyBatch.model_validate(recorded)
