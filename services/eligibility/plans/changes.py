"""The change report of a correction: what publishing a plan changed for the people already
determined under the version it replaced.

Who now owes more and who less (their own contribution), the refunds due to those who had paid
more than they now owe, and per budget line the subsidies added and withdrawn. Read from the
determinations' history (the re-determination writes a new row only for a person whose
outcome changed) and the payments eligibility holds (`payment_entries`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from services.eligibility.plans.repository import PlanRepository
from shared.errors import NotFound


def _lines(subsidies: Any) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for s in subsidies or []:
        out[str(s["funding_source"])] += int(s["amount_fen"])
    return out


async def change_report(repo: PlanRepository, region_code: str, plan_year: int,
                        publication: int, people_limit: int = 10_000) -> dict[str, Any]:
    pub = await repo.publication(publication, region_code, plan_year)
    if pub is None:
        raise NotFound(f"{region_code}-{plan_year} 没有第 {publication} 号发布",
                       code="publication_not_found")
    job = None
    if pub.redetermination_job:
        job = await repo.redetermination_job(pub.redetermination_job)
    out: dict[str, Any] = {
        "region_code": region_code, "plan_year": plan_year, "publication": pub.id,
        "version": pub.version, "previous_version": pub.previous, "redetermination": job,
        "owe_more": {"headcount": 0, "amount_fen": 0},
        "owe_less": {"headcount": 0, "amount_fen": 0},
        "refunds": {"headcount": 0, "amount_fen": 0},
        "budget_lines": {}, "people": [], "people_changed": 0,
    }
    if pub.previous is None or pub.previous == pub.version:
        return out
    rows = await repo.changed_people(plan_year, pub.version, pub.previous)
    lines: dict[str, dict[str, int]] = {}
    for r in rows:
        before, after = _lines(r.before_lines), _lines(r.after_lines)
        if r.before_fen == r.after_fen and before == after:
            continue
        out["people_changed"] += 1
        delta = r.after_fen - r.before_fen
        side = out["owe_more"] if delta > 0 else out["owe_less"] if delta < 0 else None
        if side is not None:
            side["headcount"] += 1
            side["amount_fen"] += abs(delta)
        refund = max(0, min(r.paid_fen, r.before_fen) - r.after_fen) if r.paid_fen > 0 else 0
        if refund:
            out["refunds"]["headcount"] += 1
            out["refunds"]["amount_fen"] += refund
        for line in sorted(set(before) | set(after)):
            change = after.get(line, 0) - before.get(line, 0)
            if change:
                t = lines.setdefault(line, {"headcount": 0, "added_fen": 0, "withdrawn_fen": 0})
                t["headcount"] += 1
                t["added_fen" if change > 0 else "withdrawn_fen"] += abs(change)
        if len(out["people"]) < people_limit:
            out["people"].append({
                "person_id": str(r.person_id), "township_code": r.township_code,
                "before_personal_fen": r.before_fen, "after_personal_fen": r.after_fen,
                "difference_fen": delta, "paid_fen": r.paid_fen, "refund_due_fen": refund,
                "budget_lines": {k: after.get(k, 0) - before.get(k, 0)
                                 for k in sorted(set(before) | set(after))
                                 if after.get(k, 0) != before.get(k, 0)}})
    out["budget_lines"] = {k: {**v, "net_fen": v["added_fen"] - v["withdrawn_fen"]}
                           for k, v in sorted(lines.items())}
    return out
