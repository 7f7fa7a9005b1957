"""Routes of village collection: receipts, voids, daily hand-overs (解缴), bank deposits."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from services.payments.collectors.schemas import (
    CollectionCreate,
    DepositCreate,
    DepositFile,
    HandoverCreate,
    VoidRequest,
)
from services.payments.collectors.service import CollectorService
from shared.auth import current_principal
from shared.db import SessionDep
from shared.params import DateQuery

router = APIRouter(prefix="/v1/collections", tags=["village collection"])
ReceiptPath = Annotated[str, Path(pattern=r"^SJ[0-9]{12}[0-9]{7}$")]
HandoverPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z@._\-]+$")]


def _service(request: Request, session: SessionDep) -> CollectorService:
    state = request.app.state
    return CollectorService(session, state.runtime.outbox, state.coverage, state.vault)


@router.post("", status_code=201,
             summary="Record a payment a village collector took (cash or QR), with its receipt")
async def record(body: CollectionCreate, request: Request, session: SessionDep
                 ) -> dict[str, Any]:
    async with session.begin():
        return await _service(request, session).record(body, current_principal(request))


@router.get("", summary="Receipts: a collector's own, staff those of their region")
async def receipts(request: Request, session: SessionDep,
                   day: dt.date | None = DateQuery(None)) -> list[dict[str, Any]]:
    return await _service(request, session).receipts(current_principal(request), day)


@router.post("/{receipt_no}/void", summary="Void a receipt (reason required; before hand-over)")
async def void(receipt_no: ReceiptPath, body: VoidRequest, request: Request,
               session: SessionDep) -> dict[str, Any]:
    async with session.begin():
        return await _service(request, session).void(receipt_no, body.reason,
                                                     current_principal(request))


@router.post("/handovers", status_code=201, summary="The day's hand-over (解缴) with totals")
async def hand_over(body: HandoverCreate, request: Request, session: SessionDep
                    ) -> dict[str, Any]:
    async with session.begin():
        return await _service(request, session).hand_over(body, current_principal(request))


@router.get("/handovers", summary="Hand-overs: a collector's own, staff those of their region")
async def handovers(request: Request, session: SessionDep,
                    day: dt.date | None = DateQuery(None)) -> list[dict[str, Any]]:
    return await _service(request, session).handovers(current_principal(request), day)


@router.post("/handovers/{handover_no}/deposit",
             summary="The bank's deposit record for a hand-over: confirmed, short or over")
async def deposit(handover_no: HandoverPath, body: DepositCreate, request: Request,
                  session: SessionDep) -> dict[str, Any]:
    async with session.begin():
        return await _service(request, session).deposit(handover_no, body,
                                                        current_principal(request))


@router.post("/deposits", summary="The bank's deposit records for many hand-overs, whole or not "
                                  "at all")
async def deposits(body: DepositFile, request: Request, session: SessionDep) -> dict[str, Any]:
    async with session.begin():
        return await _service(request, session).deposits(body, current_principal(request))
