from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.reporting import responses
from services.reporting.deps import PlanCopiesDep, UnitOfWorkDep
from services.reporting.exports import Table, file_response
from services.reporting.funds import service
from services.reporting.regions import RegionDep
from shared.api_docs import file_responses
from shared.money import fen_to_yuan

router = APIRouter(prefix="/v1", tags=["funds"])


_FUND_AMOUNTS = ("personal_contributions", "government_proxy_payments",
                 "contributions_collected", "fiscal_subsidy_per_capita", "fiscal_subsidy")


def fund_table(data: dict[str, Any]) -> Table:
    """The fund summary as finance prints it: one row per county, amounts in yuan."""
    rows = [{**row, **{f"{k}_yuan": fen_to_yuan(row[f"{k}_fen"])
                       if row.get(f"{k}_fen") is not None else None for k in _FUND_AMOUNTS}}
            for row in data["rows"]]
    return Table(
        title=f"{data['region_name']} {data['plan_year']}年度城乡居民医保基金筹集汇总表",
        subtitle=data.get("note", ""),
        columns=[("county_name", "县（市、区）"), ("registered", "登记人数"),
                 ("insured", "参保人数"), ("personal_payers", "个人缴费人数"),
                 ("government_paid_for", "政府代缴人数"),
                 ("personal_contributions_yuan", "个人缴费（元）"),
                 ("government_proxy_payments_yuan", "政府代缴（元）"),
                 ("contributions_collected_yuan", "征收合计（元）"),
                 ("fiscal_subsidy_per_capita_yuan", "人均财政补助（元）"),
                 ("fiscal_subsidy_yuan", "财政补助（元）"), ("fund_total_yuan", "基金合计（元）")],
        rows=rows,
        totals=("registered", "insured", "personal_payers", "government_paid_for",
                "personal_contributions_yuan", "government_proxy_payments_yuan",
                "contributions_collected_yuan", "fiscal_subsidy_yuan", "fund_total_yuan"))


@router.get("/fund-summary", response_model=None,
            responses={200: {"model": responses.FundSummary}})
async def get_fund_summary(
    request: Request, session: UnitOfWorkDep, region: RegionDep, plans: PlanCopiesDep,
    plan_year: Annotated[int, Query(ge=2000, le=2100)],
    format: Literal["json", "csv", "xlsx"] = "json",  # noqa: A002
) -> dict[str, Any] | Response:
    """Per county of the region asked for (the caller's own when none is given); as an XLSX
    or CSV for finance with `format`."""
    data = await service.fund_summary(session, plan_year, region,
                                      plans.catalog)
    if format == "json":
        return data
    return file_response([fund_table(data)], format)


CHANNEL_NAMES = {"wechatpay": "微信支付", "alipay": "支付宝", "unionpay": "银联",
                 "tax_bureau": "税务部门", "bank": "银行"}
# the differences a run counts, payment channels' and the tax bureau's (contracts/payments.py)
_DIFFERENCES = ("channel_only", "ledger_only", "amount_mismatch", "status_mismatch",
                "tax_only", "amount_differs", "dates_differ")


def _net(row: dict[str, Any], totals: str) -> int | None:
    """A side's net amount in fen: payments less refunds (payment channels), `net_fen` (tax)."""
    if f"{totals}.net_fen" in row:
        return int(row[f"{totals}.net_fen"])
    if f"{totals}.payment_fen" in row:
        return int(row[f"{totals}.payment_fen"]) - int(row.get(f"{totals}.refund_fen", 0))
    return None


def reconciliation_table(data: dict[str, Any]) -> Table:
    """The reconciliation summary as finance prints it: one row per channel and statement
    day, the matched and differing lines, both sides' net amounts in yuan and their
    difference, a 合计 row."""
    rows = []
    for i, row in enumerate(data["rows"], start=1):
        theirs = _net(row, "tax_totals") if row["channel"] == "tax_bureau" else _net(
            row, "statement_totals")
        ours = _net(row, "ledger_totals")
        rows.append({
            "no": i, "channel_name": CHANNEL_NAMES.get(row["channel"], row["channel"]),
            "statement_date": row["statement_date"],
            "matched": row.get("counts.matched", 0),
            "differences": sum(row.get(f"counts.{k}", 0) for k in _DIFFERENCES),
            "statement_yuan": fen_to_yuan(theirs) if theirs is not None else None,
            "ledger_yuan": fen_to_yuan(ours) if ours is not None else None,
            "difference_yuan": (fen_to_yuan(theirs - ours)
                                if theirs is not None and ours is not None else None),
            "totals_match_name": {True: "是", False: "否"}.get(row["totals_match"], ""),
            "clean_name": {True: "平账", False: "有差异"}.get(row["clean"], ""),
        })
    period = ("全部日期" if not (data.get("date_from") or data.get("date_to")) else
              f"{data.get('date_from') or '…'} 至 {data.get('date_to') or '…'}")
    channel = CHANNEL_NAMES.get(data.get("channel") or "", data.get("channel") or "全部渠道")
    return Table(
        title="城乡居民医保缴费渠道对账汇总表",
        subtitle=f"{channel}　对账日期：{period}　共{data['runs']}次对账",
        columns=[("no", "序号"), ("channel_name", "渠道"), ("statement_date", "对账日期"),
                 ("matched", "一致笔数"), ("differences", "差异笔数"),
                 ("statement_yuan", "对方金额（元）"), ("ledger_yuan", "本系统金额（元）"),
                 ("difference_yuan", "差额（元）"), ("totals_match_name", "金额一致"),
                 ("clean_name", "对账结果")],
        rows=rows,
        totals=("matched", "differences", "statement_yuan", "ledger_yuan", "difference_yuan"))


@router.get("/reconciliation-summary", response_model=None,
            responses=file_responses("csv", "xlsx", model=responses.ReconciliationSummary))
async def get_reconciliation_summary(
    session: UnitOfWorkDep, channel: str | None = None, date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    format: Literal["json", "csv", "xlsx"] = "json",  # noqa: A002
) -> dict[str, Any] | Response:
    """Every reconciliation run of the channels (and the tax bureau) in the period; as an XLSX
    or CSV for finance with `format` (one row per run: matched and differing lines, both
    sides' net amounts in yuan, their difference)."""
    data = await service.reconciliation_summary(session, channel, date_from, date_to)
    if format == "json":
        return data
    return file_response([reconciliation_table({
        **data, "channel": channel, "date_from": date_from and date_from.isoformat(),
        "date_to": date_to and date_to.isoformat()})], format)
