"""Request and answer shapes of the tax exchange and reconciliation routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from shared.params import PLAN_YEAR_MAX, PLAN_YEAR_MIN
from shared.text import PlainText

OutgoingKind = Literal["dues", "special"]
RegionQuery = Annotated[str, Query(pattern=r"^[0-9]{6}([0-9]{6})?$",
                                   description="行政区划代码: 6 (county) or 12 digits")]
PlanYearQuery = Annotated[int, Query(ge=PLAN_YEAR_MIN, le=PLAN_YEAR_MAX)]

EXCHANGE_BODY = {
    "requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"},
                     "example": "文件类型,文件序号,行政区划代码,缴费年度,起始日期,截止日期,"
                                "记录数,金额合计\r\n"
                                "缴费信息,000001,370481,,,,1,400.00\r\n"
                                "记录类型,税票号码,原税票号码,人员编号,证件号码,缴费年度,缴费金额,缴费日期,"
                                "缴费渠道,电子票据号\r\n"
                                "缴费,332024000001,,<uuid>,,2025,400.00,2024-12-01,微信,\r\n"},
        "application/json": {"schema": {"type": "object",
                                        "description": "the control columns as keys, the rows "
                                                       "under 明细 (docs/EXCHANGE.md)"}}}}}


class OutgoingFileListed(BaseModel):
    """A file sent to the tax bureau, without its content."""

    id: int
    kind: OutgoingKind
    region_code: str
    plan_year: int
    seq_no: int
    record_count: int
    total_fen: int
    sha256: str
    created_at: str


class OutgoingFiles(BaseModel):
    """The files sent to the tax bureau (docs/API.md: lists are objects)."""

    items: list[OutgoingFileListed]


class OutgoingFile(BaseModel):
    id: int
    kind: OutgoingKind
    file_type: str
    region_code: str
    plan_year: int
    seq_no: int
    record_count: int
    total_fen: int
    total_yuan: str
    sha256: str
    created_at: str
    content: str = Field(description="the file exactly as first sent (UTF-8 CSV)")


class NothingChanged(BaseModel):
    file: None = None
    message: str


class Resolve(BaseModel):
    reason: PlainText = Field(min_length=2, max_length=500, description="处理说明，必填")
    action: Literal["corrected_here", "corrected_at_tax", "accepted", "timing"] = Field(
        description="corrected_here: booked or reversed here; corrected_at_tax: the tax bureau "
        "corrects its side; accepted: the difference is explained and stays; timing: the money "
        "falls in the next period")


# the file routes' answers (declared: they are no JSON)
CSV_FILE: dict[int | str, dict[str, Any]] = {200: {
    "description": "the file (UTF-8 CSV, docs/EXCHANGE.md), as an attachment",
    "content": {"text/csv": {"schema": {"type": "string"}}}}}
XLSX_FILE: dict[int | str, dict[str, Any]] = {200: {
    "description": "the report as an Excel workbook (sheets 汇总, 按日, 差异明细)",
    "content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
        "schema": {"type": "string", "format": "binary"}}}}}


class PaymentsApplied(BaseModel):
    """A payment file applied whole: each row's matching outcome counted."""

    status: Literal["applied"]
    file_id: int
    seq_no: int
    record_count: int
    outcomes: dict[str, int] = Field(description="rows per matching outcome: paid, suspense, "
                                     "duplicate, reversed, offset")


class PaymentsAlreadyApplied(BaseModel):
    """The same file (sequence number and content) again: nothing changed."""

    status: Literal["already_applied"]
    file_id: int
    seq_no: int
    outcomes: dict[str, int]
    message: str


class Schedule(BaseModel):
    """Reconciliations done in a month against the plan's schedule."""

    region_code: str
    month: str = Field(description="YYYY-MM")
    required_per_month: int
    done: int
    met: bool
    plan: str | None = Field(description="region-year of the plan the requirement comes from")
    source: str | None = Field(description="the plan's own sentence; None: an assumption")
    assumptions: list[str]
    explanation: str


class SideTotals(BaseModel):
    """One side's (tax or ledger) totals: payments less reversals."""

    count: int
    net_fen: int
    persons: int
    daily: dict[str, int] = Field(description="net fen per Beijing date (YYYY-MM-DD)")


class Difference(BaseModel):
    id: int
    kind: Literal["tax_only", "ledger_only", "amount_differs", "dates_differ"]
    person_id: str
    plan_year: int
    tax_amount_fen: int | None
    ledger_amount_fen: int | None
    tax_paid_on: str | None
    ledger_paid_on: str | None
    receipt_nos: list[str]
    ledger_ids: list[int]
    detail: str
    status: Literal["open", "resolved"]
    resolution: dict[str, Any] | None = Field(
        description="action, action_zh, reason, who resolved it and when")
    id_number_masked: str | None
    name_masked: str | None
    kind_zh: str


class TaxReconciliationReport(BaseModel):
    """A reconciliation period's report."""

    id: int
    region_code: str
    period_start: str
    period_end: str
    revision: int
    tax_totals: SideTotals
    ledger_totals: SideTotals
    totals_match: bool
    counts: dict[str, int] = Field(description="matched, tax_only, ledger_only, amount_differs, "
                                   "dates_differ, open, resolved")
    schedule: Schedule
    differences: list[Difference]
    created_at: str
