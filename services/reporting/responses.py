"""What reporting's reads answer, for the OpenAPI document (the routes build plain dicts and
answer them as they are: these models document them, with `extra` allowed so that a new field
is documented by adding it here, never refused)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ProgressTotals(_Open):
    target: int | None = Field(description="任务数 / target (null: none loaded)")
    registered: int = Field(description="登记人数 / registered")
    paid: int = Field(description="缴清人数 / paid in full (own and every government part)")
    paid_person: int
    paid_government: int
    paid_person_fen: int = Field(description="个人缴费金额 (分) / paid by persons, fen")
    paid_government_fen: int = Field(description="政府代缴金额 (分) / paid by budget lines, fen")
    rate: float | None = Field(description="完成率 % / paid against the target (else registered)")
    payment_rate: float | None
    target_percent: float | None
    change_since_yesterday: int | None


class ProgressRow(_Open):
    rank: int | None = Field(description="排名 / rank (null: no target, listed apart and unranked)")
    code: str = Field(description="区划代码 / region code of the unit")
    name: str
    target: int | None
    registered: int
    paid: int
    paid_person: int
    paid_government: int
    paid_person_fen: int
    paid_government_fen: int
    rate: float | None
    rate_basis: Literal["target", "registered"]
    registered_rate: float | None
    change_since_yesterday: int | None


class Progress(_Open):
    """参保缴费进度 / enrollment and payment progress of a region, one row per unit."""

    region_code: str
    region_name: str
    rank: str
    county_code: str
    county_name: str
    township_code: str | None
    village_code: str | None
    plan_year: int
    level: Literal["province", "city", "county", "township", "village"]
    as_of: str = Field(description="截至日期 / as of (YYYY-MM-DD, Beijing)")
    totals: ProgressTotals
    rows: list[ProgressRow]
    categories: list[dict[str, Any]] = Field(description="按人群 / per population band")
    daily: list[dict[str, Any]] = Field(description="每日缴费 / paid per day, cumulative")
    plan: dict[str, Any] | None


class PublicityList(_Open):
    """公示表 / the publicity list of a village (or every village of a wider region)."""

    region_code: str
    region_name: str
    village_code: str | None
    village_name: str | None
    township_code: str | None
    township_name: str | None
    county_code: str | None
    county_name: str | None
    plan_year: int
    publicity_from: str | None
    publicity_until: str | None
    minimum_days: int
    count: int = Field(description="人数 / persons")
    row_count: int = Field(description="行数 / rows (one per payer of a person)")
    total_fen: int
    total_yuan: str
    rows: list[dict[str, Any]]


class ReminderList(_Open):
    """催缴名单 / who still owes, with what they owe on `as_of`."""

    region_code: str
    region_name: str
    village_code: str | None
    village_name: str | None
    plan_year: int
    as_of: str
    count: int
    without_reason: int
    owed_fen: int
    phones: Literal["in full", "masked"]
    contacts: Literal["in full", "masked"] = Field(
        description="姓名、电话、户号、地址：向需打电话的工作人员完整显示 / name, phone, "
                    "household number and address in full for the staff who phone people")
    rows: list[dict[str, Any]]


class FundingApplication(_Open):
    """财政补助资金申请 / funding applications per budget line (`persons` with
    include_persons=true)."""

    region_code: str
    region_name: str
    county_code: str | None
    county_name: str | None
    plan_year: int
    budget_line: str | None = Field(description="资金渠道 / the budget line asked for, or all")
    as_of: str
    final_list_date: str | None
    by_budget_line: list[dict[str, Any]]
    summary: list[dict[str, Any]] = Field(description="按镇、类别 / per township and category")
    missed_payments: list[dict[str, Any]] | None = Field(
        description="最终名单日期后仍未代缴 / still unpaid after the final list date")


class ReminderReason(_Open):
    """未缴原因 / why someone has not paid, as recorded."""

    person_id: str
    plan_year: int
    reason: str
    reason_name: str
    note: str | None
    recorded_by: str | None
    recorded_at: str


class FundSummary(_Open):
    """基金收入汇总 / the fund summary, one row per county of the region."""

    plan_year: int
    region_code: str
    region_name: str
    county_code: str | None
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    note: str = Field(description="计算口径 / how the figures are counted")


class ReconciliationSummary(_Open):
    """对账汇总 / reconciliation runs of the channels, totals per figure and per channel."""

    runs: int
    totals: dict[str, int]
    by_channel: dict[str, dict[str, int]]
    rows: list[dict[str, Any]]
