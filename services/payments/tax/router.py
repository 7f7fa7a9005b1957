"""Routes of the exchange with the tax bureau and of the reconciliation medical insurance <->
tax (docs/EXCHANGE.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from services.payments.tax import files as f
from services.payments.tax.reconciliation import TaxReconciliationService
from services.payments.tax.repository import TaxRepository
from services.payments.tax.schemas import (
    EXCHANGE_BODY,
    NothingChanged,
    OutgoingFile,
    OutgoingKind,
    PlanYearQuery,
    RegionQuery,
    Resolve,
)
from services.payments.tax.service import ExchangeService, FileRefused
from shared.auth import current_principal
from shared.db import SessionDep
from shared.errors import Invalid
from shared.params import RowIdPath

router = APIRouter(prefix="/v1/tax", tags=["tax bureau exchange"])


def _service(request: Request, session: SessionDep) -> ExchangeService:
    state = request.app.state
    return ExchangeService(session, state.runtime.outbox, state.coverage, state.vault)


def _reconciliations(request: Request, session: SessionDep) -> TaxReconciliationService:
    state = request.app.state
    return TaxReconciliationService(session, state.runtime.outbox, state.coverage, state.vault)


async def read_file(request: Request) -> f.ExchangeFile:
    """The exchange file in the body: text/csv (UTF-8) or its JSON form."""
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "application/json":
            data = orjson.loads(body)
            if not isinstance(data, dict):
                raise f.FileFormatError("JSON 正文应为一个对象")
            return f.parse_json(data)
        if kind in ("text/csv", "text/plain"):
            return f.parse_csv(body.decode("utf-8"))
    except (f.FileFormatError, orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Invalid(f"文件无法读取：{exc}", code="tax_file_unreadable") from exc
    raise Invalid("请以 text/csv（UTF-8）或 application/json 提交文件",
                  code="tax_file_unreadable")


@router.post("/exchange/outgoing/{kind}", response_model=OutgoingFile | NothingChanged,
             summary="The next 费源 (dues) or 特殊缴费单据 file: what changed since the last one")
async def next_outgoing(kind: OutgoingKind, region_code: RegionQuery, plan_year: PlanYearQuery,
                        request: Request, session: SessionDep, response: Response) -> Any:
    async with session.begin():
        made = await _service(request, session).next_outgoing(
            kind, region_code, plan_year, current_principal(request))
    if made is None:
        return {"file": None, "message": "自上一份文件以来没有变化：未生成新文件，未占用文件序号"}
    response.status_code = 201
    return made


@router.get("/exchange/outgoing", summary="The files sent to the tax bureau (no content)")
async def list_outgoing(request: Request, session: SessionDep,
                        kind: OutgoingKind | None = None) -> list[dict[str, Any]]:
    rows = await TaxRepository(session).outgoing_files(
        current_principal(request).region_filter, kind)
    return [{**r, "created_at": r["created_at"].isoformat()} for r in rows]


@router.get("/exchange/outgoing/{file_id}", response_model=OutgoingFile,
            summary="One sent file again (a re-send: the same bytes, nothing changes)")
async def get_outgoing(file_id: RowIdPath, request: Request, session: SessionDep) -> Any:
    return await _service(request, session).outgoing(file_id, current_principal(request))


@router.get("/exchange/outgoing/{file_id}/file", summary="One sent file as CSV (a re-send)")
async def get_outgoing_csv(file_id: RowIdPath, request: Request, session: SessionDep
                           ) -> Response:
    made = await _service(request, session).outgoing(file_id, current_principal(request))
    name = f"{made['kind']}-{made['region_code']}-{made['seq_no']:06d}.csv"
    return Response(made["content"].encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@router.post("/exchange/payments", openapi_extra=EXCHANGE_BODY,
             summary="Apply the tax bureau's payment records and reversals (缴费信息), whole or "
                     "not at all")
async def apply_payments(request: Request, session: SessionDep) -> dict[str, Any]:
    file = await read_file(request)
    principal = current_principal(request)
    try:
        async with session.begin():
            return await _service(request, session).apply_payments(file, principal)
    except FileRefused as refused:
        d = refused.details
        async with session.begin():  # the refusal is kept although nothing was booked
            await TaxRepository(session).add_refusal(
                region_code=d["region_code"], seq_no=d["seq_no"], sha256=d["sha256"],
                problems=d["problems"], rows=d["rows"], received_by=principal.subject)
        raise


@router.post("/reconciliations", status_code=201, openapi_extra=EXCHANGE_BODY,
             summary="Reconcile a period: the tax bureau's collection detail (征收明细) against "
                     "what was booked here")
async def reconcile(request: Request, session: SessionDep) -> dict[str, Any]:
    file = await read_file(request)
    async with session.begin():
        return await _reconciliations(request, session).reconcile(
            file, current_principal(request))


@router.get("/reconciliations/schedule",
            summary="Reconciliations done in a month against the plan's schedule")
async def schedule(region_code: RegionQuery, month: str, request: Request,
                   session: SessionDep) -> dict[str, Any]:
    try:
        first = dt.date.fromisoformat(f"{month}-01")
    except ValueError as exc:
        raise Invalid("month 应为 YYYY-MM", field="month", code="invalid_month") from exc
    return await _reconciliations(request, session).schedule(region_code, first)


@router.get("/reconciliations/{rec_id}", summary="A reconciliation period's report (JSON)")
async def report(rec_id: RowIdPath, request: Request, session: SessionDep) -> dict[str, Any]:
    return await _reconciliations(request, session).report(
        rec_id, current_principal(request))


@router.get("/reconciliations/{rec_id}/report.xlsx",
            summary="A reconciliation period's report (XLSX)")
async def report_xlsx(rec_id: RowIdPath, request: Request, session: SessionDep) -> Response:
    service = _reconciliations(request, session)
    data = await service.report_xlsx(rec_id, current_principal(request))
    return Response(data, media_type="application/vnd.openxmlformats-officedocument."
                                     "spreadsheetml.sheet",
                    headers={"content-disposition":
                             f'attachment; filename="tax-reconciliation-{rec_id}.xlsx"'})


@router.post("/reconciliations/{rec_id}/differences/{diff_id}/resolve",
             summary="Resolve one difference with a reason (audited)")
async def resolve(rec_id: RowIdPath, diff_id: RowIdPath, body: Resolve, request: Request,
                  session: SessionDep) -> dict[str, Any]:
    async with session.begin():
        return await _reconciliations(request, session).resolve(
            rec_id, diff_id, body.action, body.reason, current_principal(request))
