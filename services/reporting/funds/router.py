from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.reporting import responses
from services.reporting.funds import service
from services.reporting.regions import RegionDep
from shared.db import SessionDep

router = APIRouter(prefix="/v1", tags=["funds"])


@router.get("/fund-summary", response_model=None,
            responses={200: {"model": responses.FundSummary}})
async def get_fund_summary(
    request: Request, session: SessionDep, region: RegionDep,
    plan_year: Annotated[int, Query(ge=2000, le=2100)],
) -> dict[str, Any]:
    """Per county of the region asked for (the caller's own when none is given)."""
    return await service.fund_summary(session, plan_year, region,
                                      request.app.state.plans.catalog)


@router.get("/reconciliation-summary", response_model=None,
            responses={200: {"model": responses.ReconciliationSummary}})
async def get_reconciliation_summary(
    session: SessionDep, channel: str | None = None, date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, Any]:
    return await service.reconciliation_summary(session, channel, date_from, date_to)
