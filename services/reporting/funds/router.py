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


@router.get("/reconciliation-summary", response_model=None,
            responses={200: {"model": responses.ReconciliationSummary}})
async def get_reconciliation_summary(
    session: UnitOfWorkDep, channel: str | None = None, date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, Any]:
    return await service.reconciliation_summary(session, channel, date_from, date_to)
