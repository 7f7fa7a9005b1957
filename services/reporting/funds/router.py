from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.reporting.funds import service
from shared.db import SessionDep

router = APIRouter(prefix="/v1", tags=["funds"])


@router.get("/fund-summary")
async def get_fund_summary(
    request: Request, session: SessionDep, plan_year: Annotated[int, Query(ge=2000, le=2100)],
    county_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
) -> dict[str, Any]:
    return await service.fund_summary(session, plan_year, county_code,
                                      request.app.state.settings.policies_dir)


@router.get("/reconciliation-summary")
async def get_reconciliation_summary(
    session: SessionDep, channel: str | None = None, date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, Any]:
    return await service.reconciliation_summary(session, channel, date_from, date_to)
