from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request

from services.payments.reconciliation.service import ReconciliationService
from shared.db import SessionDep
from shared.errors import NotFound
from shared.params import DateQuery, RowIdPath

router = APIRouter(tags=["reconciliation"])
MAX_STATEMENT_BYTES = 200 * 1024 * 1024


@router.post("/v1/statements/{channel}", status_code=201,
             summary="Reconcile a daily channel statement (raw file as the request body)")
async def post_statement(channel: str, request: Request, session: SessionDep,
                         date: dt.date | None = DateQuery(None)) -> dict[str, Any]:
    if channel not in request.app.state.adapters:
        raise NotFound(f"channel {channel!r} is not configured", code="unknown_channel",
                       params={"channel": channel})
    data = await request.body()
    async with session.begin():
        return await ReconciliationService(session, request.app.state.runtime.outbox).reconcile(
            channel, data, date)


@router.get("/v1/reconciliations/compare",
            summary="Tax (channel statements) versus medical insurance (ledger), any date range")
async def compare(request: Request, session: SessionDep,
                  from_: dt.date = DateQuery(alias="from"),
                  to: dt.date = DateQuery()) -> dict[str, Any]:
    return await ReconciliationService(session, request.app.state.runtime.outbox).compare(
        from_, to)


@router.get("/v1/reconciliations/{rec_id}")
async def get_reconciliation(rec_id: RowIdPath, request: Request,
                             session: SessionDep) -> dict[str, Any]:
    return await ReconciliationService(session, request.app.state.runtime.outbox).get(rec_id)
