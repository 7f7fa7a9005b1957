"""Routes of village collection: receipts, voids, daily hand-overs (解缴), bank deposits."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path

from services.payments.collectors.schemas import (
    CollectionCreate,
    DepositCreate,
    DepositFile,
    DepositsApplied,
    Handover,
    HandoverCreate,
    Handovers,
    Receipt,
    Receipts,
    VoidRequest,
)
from services.payments.deps import CollectorServiceDep, PrincipalDep
from shared.params import DateQuery

router = APIRouter(prefix="/v1/collections", tags=["village collection"])
ReceiptPath = Annotated[str, Path(pattern=r"^SJ[0-9]{12}[0-9]{7}$")]
HandoverPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z@._\-]+$")]


@router.post("", status_code=201, response_model=Receipt,
             summary="Record a payment a village collector took (cash or QR), with its receipt")
async def record(body: CollectionCreate, service: CollectorServiceDep,
                 principal: PrincipalDep) -> Receipt:
    return Receipt.model_validate(await service.record(body, principal))


@router.get("", response_model=Receipts,
            summary="Receipts: a collector's own, staff those of their region")
async def receipts(service: CollectorServiceDep, principal: PrincipalDep,
                   day: dt.date | None = DateQuery(None)) -> Receipts:
    return Receipts(items=[Receipt.model_validate(r)
                           for r in await service.receipts(principal, day)])


@router.post("/{receipt_no}/void", response_model=Receipt,
             summary="Void a receipt (reason required; before hand-over)")
async def void(receipt_no: ReceiptPath, body: VoidRequest, service: CollectorServiceDep,
               principal: PrincipalDep) -> Receipt:
    return Receipt.model_validate(await service.void(receipt_no, body.reason, principal))


@router.post("/handovers", status_code=201, response_model=Handover,
             summary="The day's hand-over (解缴) with totals")
async def hand_over(body: HandoverCreate, service: CollectorServiceDep,
                    principal: PrincipalDep) -> Handover:
    return Handover.model_validate(await service.hand_over(body, principal))


@router.get("/handovers", response_model=Handovers,
            summary="Hand-overs: a collector's own, staff those of their region")
async def handovers(service: CollectorServiceDep, principal: PrincipalDep,
                    day: dt.date | None = DateQuery(None)) -> Handovers:
    return Handovers(items=[Handover.model_validate(h)
                            for h in await service.handovers(principal, day)])


@router.post("/handovers/{handover_no}/deposit", response_model=Handover,
             summary="The bank's deposit record for a hand-over: confirmed, short or over")
async def deposit(handover_no: HandoverPath, body: DepositCreate, service: CollectorServiceDep,
                  principal: PrincipalDep) -> Handover:
    return Handover.model_validate(await service.deposit(handover_no, body, principal))


@router.post("/deposits", response_model=DepositsApplied,
             summary="The bank's deposit records for many hand-overs, whole or not at all")
async def deposits(body: DepositFile, service: CollectorServiceDep,
                   principal: PrincipalDep) -> DepositsApplied:
    return DepositsApplied.model_validate(await service.deposits(body, principal))
