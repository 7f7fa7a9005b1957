"""Routes of the exchange with the tax bureau and of the reconciliation medical insurance <->
tax (docs/EXCHANGE.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from services.payments.deps import (
    PrincipalDep,
    TaxExchangeServiceDep,
    TaxReconciliationServiceDep,
)
from services.payments.tax import files as f
from services.payments.tax.schemas import (
    CSV_FILE,
    EXCHANGE_BODY,
    XLSX_FILE,
    NothingChanged,
    OutgoingFile,
    OutgoingFileListed,
    OutgoingFiles,
    OutgoingKind,
    PaymentsAlreadyApplied,
    PaymentsApplied,
    PlanYearQuery,
    RegionQuery,
    Resolve,
    Schedule,
    TaxReconciliationReport,
)
from services.payments.tax.service import FileRefused
from shared.downloads import attachment
from shared.errors import Invalid, error_body, localized
from shared.i18n import EN, request_language
from shared.params import RowIdPath

router = APIRouter(prefix="/v1/tax", tags=["tax bureau exchange"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# an incoming file is refused whole (the error body's problems and rows say why, in Chinese)
REFUSED: dict[int | str, dict[str, Any]] = {422: {
    "description": "tax_file_unreadable, or tax_file_refused with its problems and a reason "
                   "per row"}}


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
                        service: TaxExchangeServiceDep, principal: PrincipalDep,
                        response: Response) -> OutgoingFile | NothingChanged:
    made = await service.next_outgoing(kind, region_code, plan_year, principal)
    if made is None:
        return NothingChanged(message="自上一份文件以来没有变化：未生成新文件，未占用文件序号")
    response.status_code = 201
    return OutgoingFile.model_validate(made)


@router.get("/exchange/outgoing", response_model=OutgoingFiles,
            summary="The files sent to the tax bureau (no content)")
async def list_outgoing(service: TaxExchangeServiceDep, principal: PrincipalDep,
                        kind: OutgoingKind | None = None) -> OutgoingFiles:
    return OutgoingFiles(items=[OutgoingFileListed.model_validate(r)
                                for r in await service.outgoing_files(principal, kind)])


@router.get("/exchange/outgoing/{file_id}", response_model=OutgoingFile,
            summary="One sent file again (a re-send: the same bytes, nothing changes)")
async def get_outgoing(file_id: RowIdPath, service: TaxExchangeServiceDep,
                       principal: PrincipalDep) -> OutgoingFile:
    return OutgoingFile.model_validate(await service.outgoing(file_id, principal))


@router.get("/exchange/outgoing/{file_id}/file", response_class=Response, responses=CSV_FILE,
            summary="One sent file as CSV (a re-send)")
async def get_outgoing_csv(file_id: RowIdPath, service: TaxExchangeServiceDep,
                           principal: PrincipalDep) -> Response:
    made = await service.outgoing(file_id, principal)
    name = f"{made['kind']}-{made['region_code']}-{made['seq_no']:06d}.csv"
    return Response(made["content"].encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@router.post("/exchange/payments", openapi_extra=EXCHANGE_BODY, responses=REFUSED,
             response_model=PaymentsApplied | PaymentsAlreadyApplied,
             summary="Apply the tax bureau's payment records and reversals (缴费信息), whole or "
                     "not at all")
async def apply_payments(request: Request, service: TaxExchangeServiceDep,
                         principal: PrincipalDep
                         ) -> PaymentsApplied | PaymentsAlreadyApplied | JSONResponse:
    """Refused whole (422 `tax_file_refused`, a reason per row); the refusal is kept on record
    although nothing was booked: it is written in the request's unit of work, which commits
    because the refusal is answered, not raised."""
    file = await read_file(request)
    try:
        applied = await service.apply_payments(file, principal)
    except FileRefused as refused:
        await service.keep_refusal(refused, principal)
        lang = request_language(request)  # as every other error: the reader's language
        return JSONResponse(error_body(refused.code, refused.text(lang),
                                       **localized(refused.details, lang)),
                            refused.status_code,
                            headers={"Content-Language": "en" if lang == EN else "zh-CN"})
    if applied["status"] == "already_applied":
        return PaymentsAlreadyApplied.model_validate(applied)
    return PaymentsApplied.model_validate(applied)


@router.post("/reconciliations", status_code=201, openapi_extra=EXCHANGE_BODY, responses=REFUSED,
             response_model=TaxReconciliationReport,
             summary="Reconcile a period: the tax bureau's collection detail (征收明细) against "
                     "what was booked here")
async def reconcile(request: Request, service: TaxReconciliationServiceDep,
                    principal: PrincipalDep) -> TaxReconciliationReport:
    file = await read_file(request)
    return TaxReconciliationReport.model_validate(await service.reconcile(file, principal))


@router.get("/reconciliations/schedule", response_model=Schedule,
            summary="Reconciliations done in a month against the plan's schedule")
async def schedule(region_code: RegionQuery, month: str,
                   service: TaxReconciliationServiceDep) -> Schedule:
    try:
        first = dt.date.fromisoformat(f"{month}-01")
    except ValueError as exc:
        raise Invalid("month 应为 YYYY-MM", field="month", code="invalid_month") from exc
    return Schedule.model_validate(await service.schedule(region_code, first))


@router.get("/reconciliations/{reconciliation_id}", response_model=TaxReconciliationReport,
            summary="A reconciliation period's report (JSON)")
async def report(reconciliation_id: RowIdPath, service: TaxReconciliationServiceDep,
                 principal: PrincipalDep) -> TaxReconciliationReport:
    return TaxReconciliationReport.model_validate(await service.report(reconciliation_id, principal))


@router.get("/reconciliations/{reconciliation_id}/report.xlsx", response_class=Response,
            responses=XLSX_FILE, summary="A reconciliation period's report (XLSX)")
async def report_xlsx(reconciliation_id: RowIdPath, service: TaxReconciliationServiceDep,
                      principal: PrincipalDep) -> Response:
    data = await service.report_xlsx(reconciliation_id, principal)
    return Response(data, media_type=XLSX,
                    headers=attachment(f"税务对账报告-{reconciliation_id}.xlsx"))


@router.post("/reconciliations/{reconciliation_id}/differences/{difference_id}/resolve",
             response_model=TaxReconciliationReport,
             summary="Resolve one difference with a reason (audited)")
async def resolve(reconciliation_id: RowIdPath, difference_id: RowIdPath, body: Resolve,
                  service: TaxReconciliationServiceDep,
                  principal: PrincipalDep) -> TaxReconciliationReport:
    return TaxReconciliationReport.model_validate(
        await service.resolve(reconciliation_id, difference_id, body.action, body.reason, principal))
