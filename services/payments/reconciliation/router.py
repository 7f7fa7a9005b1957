from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request

from services.payments.deps import ReconciliationServiceDep
from services.payments.reconciliation.schemas import (
    Comparison,
    Reconciliation,
    ReconciliationSummary,
)
from shared.params import DateQuery, RowIdPath

router = APIRouter(tags=["reconciliation"])
MAX_STATEMENT_BYTES = 200 * 1024 * 1024

# the request body is the channel's statement file as downloaded, not JSON
_STATEMENT_FILE = {"requestBody": {"required": True, "description": (
    "the statement file as the channel gives it: WeChat Pay's trade bill (CSV), Alipay's "
    "business detail (CSV, GBK or UTF-8), a bank's statement (CSV)"), "content": {
        media: {"schema": {"type": "string", "format": "binary"}}
        for media in ("text/csv", "application/octet-stream")}}}


@router.post("/v1/statements/{channel}", status_code=201, response_model=ReconciliationSummary,
             openapi_extra=_STATEMENT_FILE,
             summary="Reconcile a daily channel statement (raw file as the request body)")
async def post_statement(channel: str, request: Request, service: ReconciliationServiceDep,
                         date: dt.date | None = DateQuery(None)) -> ReconciliationSummary:
    service.require_channel(channel)  # before reading what may be a large body
    data = await request.body()
    return ReconciliationSummary.model_validate(await service.reconcile(channel, data, date))


@router.get("/v1/reconciliations/compare", response_model=Comparison,
            summary="Tax (channel statements) versus medical insurance (ledger), any date range")
async def compare(service: ReconciliationServiceDep,
                  date_from: dt.date = DateQuery(description="首日 / the first day (inclusive)"),
                  date_to: dt.date = DateQuery(description="末日 / the last day (inclusive)"),
                  ) -> Comparison:
    return Comparison.model_validate(await service.compare(date_from, date_to))


@router.get("/v1/reconciliations/{reconciliation_id}", response_model=Reconciliation,
            summary="One reconciliation: its summary and every item")
async def get_reconciliation(reconciliation_id: RowIdPath,
                             service: ReconciliationServiceDep) -> Reconciliation:
    return Reconciliation.model_validate(await service.get(reconciliation_id))
