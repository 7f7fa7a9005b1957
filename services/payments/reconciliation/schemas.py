"""What reconciliation answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class Totals(BaseModel):
    payment_fen: int
    refund_fen: int
    count: int


class Declared(BaseModel):
    """What the statement's own summary lines declare."""

    count: int
    payment_fen: int
    refund_fen: int


class ReconciliationSummary(BaseModel):
    """One channel's statement of one day against the ledger."""

    reconciliation_id: int
    channel: str
    statement_date: str = Field(description="YYYY-MM-DD, Beijing date")
    counts: dict[str, int] = Field(
        description="lines per result: matched, channel_only (a missed webhook, posted from "
        "the statement), ledger_only, amount_mismatch, status_mismatch, carried, ignored, "
        "reversed")
    declared: Declared
    declared_totals_match: bool
    statement_totals: Totals
    ledger_totals: Totals
    totals_match: bool
    posted_from_statement: int
    completed_at: str
    clean: bool = Field(description="totals agree and nothing needs a person's attention")


class ReconciliationItem(BaseModel):
    channel_txn_id: str
    kind: str
    order_no: str | None = None
    result: str
    statement_amount_fen: int | None = None
    ledger_amount_fen: int | None = None
    detail: str | None = None
    carry_status: str | None = None


class Reconciliation(BaseModel):
    id: int
    channel: str
    statement_date: dt.date
    summary: dict[str, Any] | None = Field(None, description="as ReconciliationSummary")
    created_at: dt.datetime
    items: list[ReconciliationItem]


class KindTotals(BaseModel):
    count: int
    total_fen: int


class ChannelComparison(BaseModel):
    statement: dict[str, KindTotals] = Field(description="per kind (payment, refund): what "
                                             "the channels' statements say was collected")
    ledger: dict[str, KindTotals] = Field(description="per kind: what the ledger holds")
    difference: dict[str, KindTotals] = Field(description="statement minus ledger, per kind")
    agrees: bool


class Comparison(BaseModel):
    """Tax (the channels' statements) against medical insurance (the ledger), per channel."""

    date_from: str = Field(description="首日 / the first day (inclusive)")
    date_to: str = Field(description="末日 / the last day (inclusive)")
    channels: dict[str, ChannelComparison]
