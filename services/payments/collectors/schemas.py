"""Request shapes of village collection."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from shared.params import PLAN_YEAR_MAX, PLAN_YEAR_MIN
from shared.text import PlainText


class CollectionCreate(BaseModel):
    """One payment a collector took on the spot (现金 or the collector's QR code)."""

    id_number: str | None = Field(None, min_length=15, max_length=20,
                                  description="the payer's ID number (or person_id; both given: "
                                  "they must name the same person)")
    person_id: uuid.UUID | None = None
    plan_year: int = Field(ge=PLAN_YEAR_MIN, le=PLAN_YEAR_MAX)
    amount_fen: int = Field(gt=0, le=10_000_000, strict=True)
    method: Literal["cash", "qr"]
    qr_txn_id: str | None = Field(None, min_length=1, max_length=64,
                                  pattern=r"^[0-9A-Za-z\-_]+$",
                                  description="the QR payment's transaction id (method qr)")
    collected_at: dt.datetime | None = Field(
        None, description="when the money was taken (default: now); not in the future")

    @model_validator(mode="after")
    def _who_and_how(self) -> CollectionCreate:
        if self.id_number is None and self.person_id is None:
            raise ValueError("give the payer's id_number or person_id")
        if self.method == "qr" and not self.qr_txn_id:
            raise ValueError("a QR payment names its qr_txn_id")
        if self.method == "cash" and self.qr_txn_id:
            raise ValueError("a cash payment has no qr_txn_id")
        if self.collected_at is not None and self.collected_at.tzinfo is None:
            raise ValueError("collected_at needs a time zone offset")
        return self


class VoidRequest(BaseModel):
    reason: PlainText = Field(min_length=2, max_length=500, description="作废原因，必填")


class HandoverCreate(BaseModel):
    day: dt.date = Field(description="the day handed over (Beijing date)")
    declared_count: int = Field(ge=0, le=100_000, description="收据张数, as the collector counts")
    declared_total_fen: int = Field(ge=0, le=10_000_000_000, strict=True,
                                    description="金额合计, as the collector counts it")


class DepositCreate(BaseModel):
    """The bank's record of one hand-over's deposit."""

    bank_ref: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z\-_]+$",
                          description="the bank's deposit record number")
    amount_fen: int = Field(ge=0, le=10_000_000_000, strict=True)
    deposited_on: dt.date


class DepositRow(DepositCreate):
    handover_no: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z@._\-]+$")


class DepositFile(BaseModel):
    """The bank's deposit records for many hand-overs, with their control total."""

    declared_count: int = Field(ge=1, le=100_000)
    declared_total_fen: int = Field(ge=0, le=10_000_000_000_000, strict=True)
    deposits: list[DepositRow] = Field(min_length=1, max_length=100_000)


# --- answers ------------------------------------------------------------------------------
class Receipt(BaseModel):
    """One collector receipt, with the outcome matching gave its money."""

    receipt_no: str = Field(description="SJ + the village's 12-digit code + 7-digit number")
    village_code: str
    collector: str
    person_id: str
    plan_year: int
    amount_fen: int
    method: Literal["cash", "qr"]
    qr_txn_id: str | None
    collected_at: str = Field(description="ISO 8601, with offset")
    day: str = Field(description="YYYY-MM-DD, Beijing date")
    outcome: str = Field(description="paid, suspense, duplicate, reversed, offset")
    status: Literal["recorded", "voided"]
    void_reason: str | None
    voided_at: str | None
    voided_by: str | None
    handover_id: int | None
    amount_yuan: str
    outcome_zh: str


class Receipts(BaseModel):
    """Receipts of village collection (docs/API.md: lists are objects)."""

    items: list[Receipt]


class Handover(BaseModel):
    """One collector's hand-over (解缴) of a day, with the bank's deposit once recorded."""

    id: int
    handover_no: str
    collector: str
    village_code: str
    day: str = Field(description="YYYY-MM-DD, Beijing date")
    receipt_count: int
    total_fen: int
    cash_fen: int
    qr_fen: int
    voided_count: int
    declared_count: int
    declared_total_fen: int
    flagged: bool = Field(description="the collector's count or total differs from the receipts")
    problems: list[str]
    status: Literal["handed_over", "confirmed", "short", "over"]
    bank_ref: str | None
    deposited_fen: int | None
    deposited_on: str | None
    difference_fen: int | None = Field(description="deposited minus handed over")
    deposit_recorded_by: str | None
    created_at: str
    total_yuan: str
    status_zh: str


class Handovers(BaseModel):
    """Hand-overs (解缴) of village collection (docs/API.md: lists are objects)."""

    items: list[Handover]


class DepositsApplied(BaseModel):
    """A bank deposit file applied whole."""

    status: Literal["applied"]
    count: int
    short: int
    over: int
    handovers: list[Handover]
