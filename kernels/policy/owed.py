"""What a person owes, and from when they are covered, for a given payment date.

A determination holds two outcomes: paid on time (up to `on_time_until`) and paid late (what
determine() gives for a payment the day after). `owed_on` picks between them for a payment date
and adds what only the date decides: the waiting period of a late payment (which may depend on
the person's earlier years) and whether the plan year is still open for payment at all. The
preview, the bill and matching all call it, so they cannot disagree.

Pure code: no I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from kernels.codes import budget_line_name
from shared.money import fen_to_yuan

from .coverage import last_payable_day, late_coverage_start, waiting_length
from .determine import Determination, PersonFacts, SubsidyLine, determine
from .policy import Policy

ON_TIME = "on_time"
LATE = "late"
CLOSED = "closed"

_UNIT_ZH = {"days": "日", "months": "个月"}
_FROM_ZH = {"payment_date": "自缴费之日起计算", "payment_month": "自缴费当月起计算"}


@dataclass(frozen=True)
class Outcome:
    """The amounts of one outcome: the person's own part (surcharge included) and the
    government's parts, line by line."""

    insured_category: str
    standard_fen: int
    personal_fen: int
    surcharge_fen: int
    subsidies: tuple[SubsidyLine, ...]

    @property
    def subsidy_fen(self) -> int:
        return sum(s.amount_fen for s in self.subsidies)

    def to_dict(self) -> dict[str, Any]:
        return {
            "personal_fen": self.personal_fen,
            "surcharge_fen": self.surcharge_fen,
            "subsidies": [{"rule_id": s.rule_id, "funding_source": s.funding_source,
                           "amount_fen": s.amount_fen} for s in self.subsidies],
            "insured_category": self.insured_category,
        }

    @classmethod
    def of(cls, d: Determination) -> Outcome:
        return cls(d.insured_category, d.standard_fen, d.personal_fen, d.surcharge_fen,
                   tuple(d.subsidies))

    @classmethod
    def from_dict(cls, data: dict[str, Any], standard_fen: int) -> Outcome:
        return cls(
            insured_category=str(data.get("insured_category") or ""),
            standard_fen=int(data.get("standard_fen", standard_fen)),
            personal_fen=int(data["personal_fen"]),
            surcharge_fen=int(data.get("surcharge_fen") or 0),
            subsidies=tuple(SubsidyLine(str(s.get("rule_id") or ""), str(s["funding_source"]),
                                        int(s["amount_fen"]))
                            for s in data.get("subsidies") or ()),
        )


@dataclass(frozen=True)
class Terms:
    """A person's determination for a plan year, as far as the payment date matters."""

    on_time: Outcome
    coverage_start: dt.date  # when paid on time
    on_time_until: dt.date
    payable_until: dt.date
    late: Outcome | None  # None: nothing is owed either way (a newborn registered in time)

    def event_fields(self) -> dict[str, Any]:
        """on_time_until, payable_until and late, as eligibility.determination.v1 carries them."""
        return {"on_time_until": self.on_time_until.isoformat(),
                "payable_until": self.payable_until.isoformat(),
                "late": self.late.to_dict() if self.late is not None else None}


class History(Protocol):
    """The person's earlier plan years as far as the waiting period needs them."""

    @property
    def broken_years(self) -> int: ...

    @property
    def paid_back_years(self) -> int: ...


@dataclass(frozen=True)
class KnownHistory:
    broken_years: int = 0
    paid_back_years: int = 0


@dataclass(frozen=True)
class Owed:
    """What is owed for a payment on `paid_on`, and the coverage it buys."""

    timing: str  # on_time | late | closed
    paid_on: dt.date
    outcome: Outcome | None  # None when closed
    coverage_start: dt.date | None
    explanation: str  # Chinese, citing the plan's sections
    assumptions: list[str] = field(default_factory=list)
    basis: dict[str, Any] = field(default_factory=dict)
    explanation_en: str = ""  # the explanation in English (Accept-Language: en)

    def explanation_in(self, lang: str) -> str:
        return self.explanation_en if lang == "en" and self.explanation_en else self.explanation

    @property
    def personal_fen(self) -> int:
        return self.outcome.personal_fen if self.outcome else 0

    @property
    def surcharge_fen(self) -> int:
        return self.outcome.surcharge_fen if self.outcome else 0

    @property
    def subsidies(self) -> tuple[SubsidyLine, ...]:
        return self.outcome.subsidies if self.outcome else ()

    def subsidy_of(self, funding_source: str) -> int:
        return sum(s.amount_fen for s in self.subsidies if s.funding_source == funding_source)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "timing": self.timing, "paid_on": self.paid_on.isoformat(),
            "personal_fen": self.personal_fen, "surcharge_fen": self.surcharge_fen,
            "subsidies": [{"rule_id": s.rule_id, "funding_source": s.funding_source,
                           "amount_fen": s.amount_fen} for s in self.subsidies],
            "coverage_start": self.coverage_start.isoformat() if self.coverage_start else None,
            "explanation": self.explanation, "assumptions": list(self.assumptions),
        }
        if self.outcome is not None:
            out["standard_fen"] = self.outcome.standard_fen
            out["insured_category"] = self.outcome.insured_category
        return out


# --- the two outcomes --------------------------------------------------------------------------


def terms_from(policy: Policy, on_time: Determination, late: Determination | None) -> Terms:
    until = on_time.on_time_until or policy.in_period_until
    return Terms(
        on_time=Outcome.of(on_time),
        coverage_start=on_time.coverage_start,
        on_time_until=until,
        payable_until=last_payable_day(policy, until) if late is not None else
        max(until, policy.plan_end),
        late=Outcome.of(late) if late is not None else None,
    )


def late_payment_day(on_time: Determination, policy: Policy) -> dt.date | None:
    """The payment date the late outcome is determined for: the day after the person's on-time
    window; None when nothing is owed whenever the person pays (a newborn registered in time)."""
    until = on_time.on_time_until or policy.in_period_until
    if until >= policy.plan_end and on_time.personal_fen == 0 and not on_time.subsidies:
        return None
    return until + dt.timedelta(days=1)


def determine_terms(
    policy: Policy, person: PersonFacts, enrolled_on: dt.date | None = None
) -> tuple[Determination, Terms]:
    """The on-time determination (what is stored and shown) and both outcomes."""
    on_time = determine(policy, person, enrolled_on=enrolled_on)
    day = late_payment_day(on_time, policy)
    late = determine(policy, person, enrolled_on=enrolled_on, paid_on=day) if day else None
    return on_time, terms_from(policy, on_time, late)


# --- the payment date decides --------------------------------------------------------------------


def _yuan(fen: int) -> str:
    return f"{fen_to_yuan(fen)} 元"


def _subsidy_zh(outcome: Outcome) -> str:
    if not outcome.subsidies:
        return "无政府资助"
    return "、".join(f"{budget_line_name(s.funding_source).zh} {_yuan(s.amount_fen)}"
                    for s in outcome.subsidies)


def _subsidy_en(outcome: Outcome) -> str:
    if not outcome.subsidies:
        return "no government subsidy"
    return ", ".join(f"{budget_line_name(s.funding_source).en} {fen_to_yuan(s.amount_fen)} yuan"
                     for s in outcome.subsidies)


def _rule_assumptions(policy: Policy, outcome: Outcome) -> list[str]:
    out: list[str] = []
    rules = {r.id: r for r in policy.rules}
    for rule_id in dict.fromkeys(s.rule_id for s in outcome.subsidies):
        rule = rules.get(rule_id)
        if rule is None:
            continue
        for aid in (*rule.assumptions, *(a for sh in rule.shares for a in sh.assumptions)):
            text = policy.describe_assumption(aid)
            if text not in out:
                out.append(text)
    return out


def owed_on(terms: Terms, policy: Policy, paid_on: dt.date,
            history: History | None = None) -> Owed:
    """What is owed for a payment on `paid_on` (the payment's calendar day in Beijing), who pays
    the rest, and from when the person is covered; `timing` is on_time, late or closed (the
    plan year takes no payment any more: after `payable_until`, or a waiting period that would
    end after the plan year).

    `history` (broken and paid-back years) matters only for a late payment under a plan whose
    waiting period grows with broken enrollment; without it none are counted, and the answer
    says so."""
    period = policy.periods
    basis: dict[str, Any] = {
        "paid_on": paid_on.isoformat(), "plan_year": policy.plan_year,
        "policy_version": policy.version, "on_time_until": terms.on_time_until.isoformat(),
        "payable_until": terms.payable_until.isoformat(),
    }
    if paid_on <= terms.on_time_until or terms.late is None:
        if paid_on > terms.payable_until:
            return _closed(terms, policy, paid_on, basis,
                           f"{policy.plan_year} 年度的待遇期已结束",
                           f"the {policy.plan_year} benefit period has ended")
        out = terms.on_time
        if paid_on <= policy.in_period_until:
            window = f"集中缴费期内（截至 {policy.in_period_until.isoformat()}，" \
                     f"方案{period.collection.source}）"
            window_en = f"within the collection period (to {policy.in_period_until.isoformat()})"
        elif terms.late is None:
            window = f"{policy.plan_year} 年度内"
            window_en = f"within plan year {policy.plan_year}"
        else:
            ext = period.subsidized_extension_until
            window = (f"政府资助人员的延长期内（截至 {terms.on_time_until.isoformat()}，"
                      f"方案{ext.source if ext else ''}）")
            window_en = ("within the extension for subsidized people (to "
                         f"{terms.on_time_until.isoformat()})")
        text = (f"{paid_on.isoformat()} 缴费，在{window}：个人缴费 {_yuan(out.personal_fen)}，"
                f"政府资助 {_subsidy_zh(out)}；自 {terms.coverage_start.isoformat()} 起享受待遇")
        text_en = (f"paid {paid_on.isoformat()}, {window_en}: the person pays "
                   f"{fen_to_yuan(out.personal_fen)} yuan, {_subsidy_en(out)}; covered from "
                   f"{terms.coverage_start.isoformat()}")
        basis.update(timing=ON_TIME, coverage_start=terms.coverage_start.isoformat())
        return Owed(ON_TIME, paid_on, out, terms.coverage_start, text,
                    _rule_assumptions(policy, out), basis, text_en)

    if paid_on > terms.payable_until:
        return _closed(terms, policy, paid_on, basis, "此后缴费已不能在本年度内享受待遇",
                       "a payment after that buys no coverage in this plan year")
    lp = policy.late_payment
    w = lp.waiting
    assumptions = [policy.describe_assumption(a) for a in lp.assumptions]
    out = terms.late
    if out.surcharge_fen and lp.surcharge == "fiscal_subsidy":
        assumptions += [policy.describe_assumption(a)
                        for a in policy.model.fiscal_subsidy.assumptions]
    broken = paid_back = 0
    if w.per_further_broken_year:
        if history is None:
            assumptions.append("未查询此前年度的参保缴费情况：按连续参保计算等待期（无断缴年度）")
        else:
            broken, paid_back = history.broken_years, history.paid_back_years
            assumptions += [a for a in getattr(history, "assumptions", ()) if a not in assumptions]
    total, extra = waiting_length(policy, broken, paid_back)
    start, _ = late_coverage_start(policy, paid_on, broken, paid_back)
    start = max(start, terms.coverage_start)  # never before birth, nor before the plan year
    basis.update(broken_years=broken, paid_back_years=paid_back,
                 waiting={"unit": w.unit, "count_from": w.count_from, "total": total})
    if start > policy.plan_end:
        return _closed(terms, policy, paid_on, basis,
                       f"等待期 {total}{_UNIT_ZH[w.unit]}将于 {start.isoformat()} 才结束，"
                       f"已在 {policy.plan_year} 年度的待遇期（至 {policy.plan_end.isoformat()}）"
                       "之后",
                       f"the waiting period of {total} {w.unit} would end {start.isoformat()}, "
                       f"after the {policy.plan_year} benefit period (to "
                       f"{policy.plan_end.isoformat()})")
    assumptions += [a for a in _rule_assumptions(policy, out) if a not in assumptions]
    surcharge = (f"（含按全额缴费加收的 {_yuan(out.surcharge_fen)}）" if out.surcharge_fen else "")
    lost = ""
    if terms.on_time.subsidy_fen > out.subsidy_fen:
        gone = _yuan(terms.on_time.subsidy_fen - out.subsidy_fen)
        lost = f"；按时缴费可享受的政府资助 {gone}不再享受"
    wait = f"待遇等待期 {total}{_UNIT_ZH[w.unit]}（{_FROM_ZH[w.count_from]}"
    if extra:
        wait += f"，含断缴 {broken} 年、补缴 {paid_back} 年所加的 {extra}{_UNIT_ZH[w.unit]}"
    wait += "）"
    text = (f"{paid_on.isoformat()} 缴费，已过按时缴费期"
            f"（截至 {terms.on_time_until.isoformat()}）："
            f"按方案{lp.source}，个人缴费 {_yuan(out.personal_fen)}{surcharge}，"
            f"政府资助 {_subsidy_zh(out)}{lost}；{wait}，自 {start.isoformat()} 起享受待遇")
    lost_en = ""
    if terms.on_time.subsidy_fen > out.subsidy_fen:
        lost_en = (f"; the {fen_to_yuan(terms.on_time.subsidy_fen - out.subsidy_fen)} yuan of "
                   "subsidy for paying on time is lost")
    text_en = (f"paid {paid_on.isoformat()}, after the on-time period (to "
               f"{terms.on_time_until.isoformat()}): the person pays "
               f"{fen_to_yuan(out.personal_fen)} yuan"
               + (f" (including a {fen_to_yuan(out.surcharge_fen)} yuan surcharge)"
                  if out.surcharge_fen else "")
               + f", {_subsidy_en(out)}{lost_en}; waiting period {total} {w.unit} counted from "
               f"the {w.count_from.replace('_', ' ')}, covered from {start.isoformat()}")
    basis.update(timing=LATE, coverage_start=start.isoformat())
    return Owed(LATE, paid_on, out, start, text, assumptions, basis, text_en)


def _closed(terms: Terms, policy: Policy, paid_on: dt.date, basis: dict[str, Any],
            why: str, why_en: str = "") -> Owed:
    text = (f"{paid_on.isoformat()} 缴费：{policy.plan_year} 年度已不再收取居民医保费"
            f"（最后缴费日 {terms.payable_until.isoformat()}；{why}）。"
            f"请缴纳下一年度的费用")
    text_en = (f"paid {paid_on.isoformat()}: plan year {policy.plan_year} takes no more "
               f"contributions (last day {terms.payable_until.isoformat()}; {why_en}); pay for "
               "the next plan year")
    basis.update(timing=CLOSED, coverage_start=None)
    return Owed(CLOSED, paid_on, None, None, text, [], basis, text_en)
