"""Fund summary (personal contributions plus fiscal subsidy per capita) and reconciliation."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kernels.policy import PolicyCatalog
from services.reporting.funds import repository as repo
from services.reporting.names import names_for
from services.reporting.plans import plan_for
from services.reporting.regions import Region
from shared.money import fen_to_yuan


async def fund_summary(session: AsyncSession, plan_year: int, region: Region,
                       plans: PolicyCatalog | None = None) -> dict[str, Any]:
    """Per county of the region: what persons paid, what governments paid on their behalf
    (each counted for whoever paid it), and the fiscal subsidy for everyone insured (whole due
    covered)."""
    counties = await repo.paid_by_county(session, plan_year, region)
    subsidies: dict[str, dict[str, int]] = defaultdict(dict)
    for s in await repo.subsidies_by_county(session, plan_year, region):
        subsidies[s["county_code"]][s["budget_line"]] = s["amount_fen"]
    names = await names_for(session, [region.code, *(c["county_code"] for c in counties)])
    rows = []
    for c in counties:
        plan = plan_for(c["county_code"], plan_year, plans)
        insured = c["settled"]
        per_capita = plan.fiscal_subsidy_fen if plan else None
        fiscal = per_capita * insured if per_capita is not None else None
        collected = c["paid_person_fen"] + c["paid_government_fen"]
        rows.append({
            "county_code": c["county_code"], "county_name": names[c["county_code"]],
            "registered": c["registered"], "insured": insured,
            "personal_payers": c["paid_person"], "government_paid_for": c["paid_government"],
            "personal_contributions_fen": c["paid_person_fen"],
            "government_proxy_payments_fen": c["paid_government_fen"],
            "contributions_collected_fen": collected,
            "fiscal_subsidy_per_capita_fen": per_capita,
            "fiscal_subsidy_fen": fiscal,
            "fund_total_fen": collected + (fiscal or 0),
            "fund_total_yuan": fen_to_yuan(collected + (fiscal or 0)),
            "certified_subsidies_fen": subsidies.get(c["county_code"], {}),
            "plan": plan.region_code if plan else None,
        })
    keys = ("registered", "insured", "personal_payers", "government_paid_for",
            "personal_contributions_fen", "government_proxy_payments_fen",
            "contributions_collected_fen", "fiscal_subsidy_fen", "fund_total_fen")
    totals = {k: sum(r[k] or 0 for r in rows) for k in keys}
    return {"plan_year": plan_year, "region_code": region.code,
            "region_name": names[region.code],
            "county_code": region.county_code or (region.code if region.rank != "nation"
                                                  else None),
            "rows": rows, "totals": totals,
            "note": "财政补助 = 方案规定的人均财政补助 × 参保人数（本年度应缴部分已全部"
                    "缴清的人数）；个人缴费与政府代缴按实际缴款方分别计算"}


async def reconciliation_summary(session: AsyncSession, channel: str | None,
                                 date_from: dt.date | None, date_to: dt.date | None
                                 ) -> dict[str, Any]:
    runs = await repo.reconciliations(session, channel, date_from, date_to)
    rows = []
    totals: dict[str, int] = defaultdict(int)
    by_channel: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for run in runs:
        payload = run["payload"] if isinstance(run["payload"], dict) else json.loads(run["payload"])
        figures = _figures(payload)
        for k, v in figures.items():
            totals[k] += v
            by_channel[run["channel"]][k] += v
        by_channel[run["channel"]]["runs"] += 1
        rows.append({
            "reconciliation_key": run["reconciliation_key"], "channel": run["channel"],
            "statement_date": run["statement_date"].isoformat() if run["statement_date"] else None,
            "completed_at": run["completed_at"].isoformat(), **figures,
            "clean": payload.get("clean"), "totals_match": payload.get("totals_match"),
        })
        if payload.get("clean") is False:
            totals["runs_not_clean"] += 1
    return {"runs": len(rows), "totals": dict(totals),
            "by_channel": {k: dict(v) for k, v in sorted(by_channel.items())}, "rows": rows}


def _figures(payload: dict[str, Any], prefix: str = "") -> dict[str, int]:
    """Integer figures of a reconciliation payload, nested ones flattened ("counts.matched")."""
    out: dict[str, int] = {}
    for key, value in payload.items():
        if key in ("revision", "reconciliation_id"):
            continue
        if isinstance(value, dict):
            out.update(_figures(value, f"{prefix}{key}."))
        elif isinstance(value, int) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = value
    return out
