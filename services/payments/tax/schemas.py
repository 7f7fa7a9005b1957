"""Request and answer shapes of the tax exchange and reconciliation routes."""

from __future__ import annotations

from typing import Annotated, Literal

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
