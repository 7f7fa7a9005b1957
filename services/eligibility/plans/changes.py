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

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import NotFound

S = "eligibility"


def _lines(subsidies: Any) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for s in subsidies or []:
        out[str(s["funding_source"])] += int(s["amount_fen"])
    return out


async def change_report(session: AsyncSession, region_code: str, plan_year: int,
                        publication: int, people_limit: int = 10_000) -> dict[str, Any]:
    pub = (await session.execute(text(f"""
        SELECT p.id, p.version, p.redetermination_job, p.published_at,
               (SELECT q.version FROM {S}.plan_publications q
                WHERE q.region_code = p.region_code AND q.plan_year = p.plan_year
                  AND q.id < p.id ORDER BY q.id DESC LIMIT 1) AS previous
        FROM {S}.plan_publications p
        WHERE p.id = :id AND p.region_code = :r AND p.plan_year = :y"""),
        {"id": publication, "r": region_code, "y": plan_year})).first()
    if pub is None:
        raise NotFound(f"{region_code}-{plan_year} 没有第 {publication} 号发布",
                       code="publication_not_found")
    job = None
    if pub.redetermination_job:
        row = (await session.execute(text(
            f"SELECT status, total, processed, changed, adjustments FROM {S}.redetermination_jobs "
            "WHERE id = :id"), {"id": pub.redetermination_job})).first()
        job = dict(row._mapping) if row else None
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
    rows = (await session.execute(text(f"""
        WITH new AS (
            SELECT DISTINCT ON (person_id) id, person_id, personal_fen, subsidies, township_code,
                   enrolled
            FROM {S}.determinations WHERE plan_year = :y AND policy_version = :new
            ORDER BY person_id, id DESC),
        old AS (
            SELECT DISTINCT ON (d.person_id) d.person_id, d.personal_fen, d.subsidies, d.enrolled
            FROM {S}.determinations d JOIN new n ON n.person_id = d.person_id AND d.id < n.id
            WHERE d.plan_year = :y AND d.policy_version = :old
            ORDER BY d.person_id, d.id DESC),
        paid AS (
            SELECT person_id, sum(CASE WHEN kind = 'paid' THEN amount_fen ELSE -amount_fen END)
                   AS paid_fen
            FROM {S}.payment_entries WHERE plan_year = :y AND payer = 'person'
            GROUP BY person_id)
        SELECT n.person_id, n.township_code, o.personal_fen AS before_fen,
               n.personal_fen AS after_fen, o.subsidies AS before_lines,
               n.subsidies AS after_lines, coalesce(p.paid_fen, 0) AS paid_fen
        FROM new n JOIN old o USING (person_id) LEFT JOIN paid p USING (person_id)
        WHERE n.enrolled AND o.enrolled
        ORDER BY n.township_code NULLS FIRST, n.person_id"""),
        {"y": plan_year, "new": pub.version, "old": pub.previous})).all()
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
