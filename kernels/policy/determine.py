"""Per-person determination: what one person owes for a plan year, who pays the rest, and why."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kernels.codes import GROUP_CODES, INSURED_CATEGORIES, group_label
from shared.money import fen_to_yuan

from .coverage import late_coverage_start, payment_timing
from .errors import UnknownGroupCode, UnknownInsuredCategory
from .policy import Policy
from .rules import (
    age_for_plan,
    age_matches,
    declaration_assumptions,
    derive_category,
    describe_age_range,
    group_dates_ok,
    membership_counts,
    other_basis,
    same_lines,
    share_amounts,
    tie_assumptions,
)
from .schema import SubsidyRule
from .trace import (
    APPLIED,
    FORFEITED,
    LOST,
    NOT_COUNTED,
    NOT_MATCHED,
    NOTE,
    SKIPPED,
    WON,
    TraceEntry,
)

_KNOWN_GROUPS = frozenset(GROUP_CODES)


@dataclass(frozen=True, slots=True)
class GroupMembership:
    code: str
    certified_on: dt.date | None = None
    ends_on: dt.date | None = None
    later_birth_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class PersonFacts:
    birth_date: dt.date
    insured_category: str | None = None
    groups: tuple[GroupMembership, ...] = ()
    registered_on: dt.date | None = None
    broken_years: int = 0
    paid_back_years: int = 0


@dataclass(frozen=True, slots=True)
class SubsidyLine:
    rule_id: str
    funding_source: str
    amount_fen: int


@dataclass(frozen=True)
class Determination:
    standard_fen: int
    personal_fen: int
    subsidies: list[SubsidyLine]
    surcharge_fen: int
    insured_category: str
    coverage_start: dt.date
    policy_version: str
    assumptions: list[str] = field(default_factory=list)
    trace: list[TraceEntry] = field(default_factory=list)
    # the last payment date that still gets these amounts and this coverage start (the
    # collection period, publicity week, or for a subsidized person the plan's extension)
    on_time_until: dt.date | None = None

    @property
    def subsidy_fen(self) -> int:
        return sum(s.amount_fen for s in self.subsidies)

    @property
    def winning_rule(self) -> str | None:
        return self.subsidies[0].rule_id if self.subsidies else None

    def to_dict(self) -> dict[str, object]:
        return {
            "standard_fen": self.standard_fen,
            "personal_fen": self.personal_fen,
            "subsidies": [
                {
                    "rule_id": s.rule_id,
                    "funding_source": s.funding_source,
                    "amount_fen": s.amount_fen,
                }
                for s in self.subsidies
            ],
            "surcharge_fen": self.surcharge_fen,
            "insured_category": self.insured_category,
            "coverage_start": self.coverage_start.isoformat(),
            "policy_version": self.policy_version,
            "on_time_until": self.on_time_until.isoformat() if self.on_time_until else None,
            "assumptions": list(self.assumptions),
            "trace": [t.to_dict() for t in self.trace],
        }


@dataclass
class _Candidate:
    rule: SubsidyRule
    lines: list[tuple[str, int]]
    reason: str

    @property
    def total(self) -> int:
        return sum(a for _, a in self.lines)


def _check_person(person: PersonFacts) -> None:
    for membership in person.groups:
        if membership.code not in _KNOWN_GROUPS:
            raise UnknownGroupCode(membership.code)
    if person.insured_category is not None and person.insured_category not in INSURED_CATEGORIES:
        raise UnknownInsuredCategory(person.insured_category)
    if person.broken_years < 0 or person.paid_back_years < 0:
        raise ValueError("broken_years and paid_back_years cannot be negative")


def _is_newborn(
    policy: Policy, person: PersonFacts, registered: dt.date | None
) -> tuple[bool, str]:
    rule = policy.newborn
    if rule is None:
        return False, ""
    birth = person.birth_date
    if not (policy.plan_start <= birth <= policy.plan_end):
        return False, f"born {birth.isoformat()}, not in plan year {policy.plan_year}"
    if registered is None:
        return False, "born in the plan year but no registration date given"
    days = (registered - birth).days
    if 0 <= days <= rule.register_within_days:
        return True, (
            f"born {birth.isoformat()} and registered {registered.isoformat()}, "
            f"{days} days later (within {rule.register_within_days})"
        )
    return False, (
        f"registered {days} days after birth, beyond the {rule.register_within_days} days allowed"
    )


def determine(
    policy: Policy,
    person: PersonFacts,
    enrolled_on: dt.date | None = None,
    paid_on: dt.date | None = None,
) -> Determination:
    """Decide one person's contribution for the policy's plan year.

    enrolled_on stands in for person.registered_on when that is missing (newborn registration).
    paid_on None means the payment is assumed to fall inside the collection period.
    """
    _check_person(person)
    trace: list[TraceEntry] = []
    assumptions: list[str] = []

    def assume(ids: list[str]) -> None:
        for aid in ids:
            text = policy.describe_assumption(aid)
            if text not in assumptions:
                assumptions.append(text)

    # 1. insured category and standard
    category, why = derive_category(policy, person.birth_date, person.insured_category)
    standard = policy.standard_fen(category)
    trace.append(
        TraceEntry("category", True, APPLIED, f"{why}; standard {fen_to_yuan(standard)} yuan")
    )
    if len(set(policy.standards_fen.values())) > 1:  # the category decides the amount
        assume(list(policy.category_rule.assumptions))
        if category == person.insured_category:  # a declaration checked against its limit
            assume(declaration_assumptions(policy, category))

    # 2. newborns registered in time pay nothing and are covered from birth
    registered = person.registered_on or enrolled_on
    newborn, why = _is_newborn(policy, person, registered)
    if policy.newborn is not None:
        trace.append(TraceEntry("newborn", newborn, APPLIED if newborn else NOT_MATCHED, why))
    if newborn:
        assert policy.newborn is not None
        assume(list(policy.newborn.assumptions))
        trace.append(
            TraceEntry(
                "coverage",
                True,
                APPLIED,
                f"covered from birth, {person.birth_date.isoformat()}; nothing to pay this year",
            )
        )
        return Determination(
            standard_fen=0,
            personal_fen=0,
            subsidies=[],
            surcharge_fen=0,
            insured_category="minor",
            coverage_start=person.birth_date,
            policy_version=policy.version,
            assumptions=assumptions,
            trace=trace,
            on_time_until=policy.plan_end,  # nothing to pay, whenever
        )

    # 3. payment timing
    timing = payment_timing(policy, paid_on)
    in_period, in_extension = timing.in_period, timing.in_extension
    ext_until = policy.subsidized_until

    # 4. which group memberships count
    valid: dict[str, list[GroupMembership]] = {}
    for m in person.groups:
        check = membership_counts(policy, m.code, m.certified_on, m.ends_on)
        if check.counts:
            valid.setdefault(m.code, []).append(m)
            assume(list(check.assumptions))
        else:
            trace.append(TraceEntry(f"group:{m.code}", False, NOT_COUNTED, check.reason))

    age = age_for_plan(policy.age_basis, person.birth_date, policy.plan_year)
    alt_age = age_for_plan(other_basis(policy.age_basis), person.birth_date, policy.plan_year)

    # 5. evaluate every rule
    def evaluate(rule: SubsidyRule) -> tuple[bool, str]:
        when = rule.when
        reasons: list[str] = []
        if when.groups_any:
            held = [c for c in when.groups_any if c in valid]
            if not held:
                return False, "holds none of " + ", ".join(group_label(c) for c in when.groups_any)
            if when.group_dates is not None:
                assume(list(when.group_dates.assumptions))  # the date condition decides
                ok_codes = []
                last_why = ""
                for code in held:
                    for m in valid[code]:
                        ok, last_why = group_dates_ok(rule, m.certified_on, m.later_birth_on)
                        if ok:
                            ok_codes.append(code)
                if not ok_codes:
                    return False, f"{group_label(held[0])}: {last_why}"
                held = ok_codes
            reasons.append("holds " + ", ".join(group_label(c) for c in dict.fromkeys(held)))
        if when.exclude_groups:
            excluded = [c for c in when.exclude_groups if c in valid]
            if excluded:
                return False, "excluded because the person is " + ", ".join(
                    group_label(c) for c in excluded
                )
        if when.age is not None:
            if not age_matches(rule, age):
                return False, f"age {age} ({policy.age_basis}) is not {describe_age_range(rule)}"
            reasons.append(f"age {age} ({policy.age_basis}) is {describe_age_range(rule)}")
        if when.paid_within_collection_period and not (in_period or in_extension):
            return False, f"applies only to payments within the collection period (paid {paid_on})"
        return True, "; ".join(reasons)

    primary, combos, fallbacks = policy.rule_groups
    results: dict[str, tuple[bool, str]] = {r.id: evaluate(r) for r in primary}
    for rule in combos:
        ok, why = evaluate(rule)
        if ok:
            partners = [o for o in rule.when.also_qualifies_for if results.get(o, (False, ""))[0]]
            if partners:
                why = (
                    f"{why}; also qualifies for {', '.join(partners)}, "
                    "so the plan's combination applies"
                )
            else:
                ok, why = (
                    False,
                    f"{why}, but qualifies for none of {', '.join(rule.when.also_qualifies_for)}",
                )
        results[rule.id] = (ok, why)
    any_primary = any(results[r.id][0] for r in (*primary, *combos))
    skipped: set[str] = set()
    for rule in fallbacks:
        ok, why = evaluate(rule)
        if ok and any_primary:
            skipped.add(rule.id)
            results[rule.id] = (
                False,
                f"{why}, but another subsidy applies and this rule is only a fallback",
            )
        else:
            results[rule.id] = (ok, why)

    # an age rule whose outcome would change under the other basis makes the basis an assumption
    if any(
        r.when.age is not None
        and (results[r.id][0] or age_matches(r, age) != age_matches(r, alt_age))
        for r in policy.rules
    ):
        assume(list(policy.model.age_basis_assumptions))

    candidates = [
        _Candidate(r, share_amounts(r, standard), results[r.id][1])
        for r in policy.rules
        if results[r.id][0]
    ]
    winner = min(candidates, key=lambda c: (-c.total, c.rule.priority), default=None)

    # 6. late payment
    late = not in_period and not (in_extension and winner is not None)
    lp = policy.late_payment
    forfeited = late and lp.subsidies_forfeited

    for rule in policy.rules:
        ok, why = results[rule.id]
        if not ok:
            outcome = SKIPPED if rule.id in skipped else NOT_MATCHED
            trace.append(TraceEntry(rule.id, False, outcome, why))
            continue
        cand = next(c for c in candidates if c.rule.id == rule.id)
        amount = f"{fen_to_yuan(cand.total)} yuan"
        if cand is winner and forfeited:
            trace.append(
                TraceEntry(
                    rule.id,
                    True,
                    FORFEITED,
                    f"{why}; would pay {amount}, but late payers pay the full cost themselves",
                )
            )
        elif cand is winner:
            trace.append(
                TraceEntry(
                    rule.id, True, WON, f"{why}; pays {amount}, the most generous for the person"
                )
            )
        else:
            assert winner is not None
            if cand.total < winner.total:
                lost = f"pays {amount}, less than {winner.rule.id}"
            else:
                lost = (
                    f"pays {amount}, the same as {winner.rule.id}, which has the earlier "
                    f"priority ({winner.rule.priority} before {rule.priority}); no stacking"
                )
                if not same_lines(cand.lines, winner.lines):  # the tie decides the budget line
                    assume(tie_assumptions(winner.rule))
                    if winner.rule.tie_break is not None:
                        lost += f"; tie decided by: {winner.rule.tie_break.source}"
            trace.append(TraceEntry(rule.id, True, LOST, f"{why}; {lost}"))
    if not policy.rules:
        trace.append(TraceEntry("subsidy", False, NOTE, "this plan has no subsidy rules"))

    subsidies: list[SubsidyLine] = []
    if winner is not None and not forfeited:
        assume(list(winner.rule.assumptions))
        for share in winner.rule.shares:
            assume(list(share.assumptions))
        for line, fen in winner.lines:
            if fen > 0:
                subsidies.append(SubsidyLine(winner.rule.id, line, fen))

    on_time_until = policy.in_period_until
    if winner is not None and ext_until is not None and ext_until > on_time_until:
        on_time_until = ext_until  # the extension for subsidized people

    surcharge = 0
    # coverage never starts before birth: a child born in the plan year and not registered as
    # a newborn in time is an ordinary (usually late) enrollee, covered from birth at the earliest
    floor = max(policy.plan_start, person.birth_date)
    coverage = floor
    if floor > policy.plan_start:
        trace.append(TraceEntry("coverage", True, NOTE,
                                f"born {person.birth_date.isoformat()}, in the plan year: "
                                "coverage never starts before birth"))
    if paid_on is None:
        trace.append(
            TraceEntry(
                "coverage",
                True,
                APPLIED,
                f"no payment date given: assumed paid in the collection period; "
                f"covered from {coverage.isoformat()}",
            )
        )
    elif not late:
        if in_extension:
            why = (
                f"paid {paid_on.isoformat()}, within the extension for subsidized people "
                f"(to {ext_until.isoformat() if ext_until else ''})"
            )
        elif paid_on < policy.collection_start:
            why = (
                f"paid {paid_on.isoformat()}, before the collection period opened; "
                "counted as in period"
            )
        else:
            until = policy.in_period_until.isoformat()
            why = f"paid {paid_on.isoformat()}, within the collection period (to {until})"
        trace.append(
            TraceEntry("coverage", True, APPLIED, f"{why}; covered from {coverage.isoformat()}")
        )
    else:
        assert paid_on is not None
        assume(list(lp.assumptions))
        if lp.surcharge == "fiscal_subsidy":
            surcharge = policy.fiscal_subsidy_fen
            assume(list(policy.model.fiscal_subsidy.assumptions))
        coverage, why = late_coverage_start(
            policy, paid_on, person.broken_years, person.paid_back_years
        )
        coverage = max(coverage, floor)
        trace.append(
            TraceEntry(
                "late_payment",
                True,
                APPLIED,
                f"paid {paid_on.isoformat()}, after the collection period "
                f"(to {policy.in_period_until.isoformat()}); {why}"
                + (
                    f"; surcharge {fen_to_yuan(surcharge)} yuan (the fiscal subsidy per person)"
                    if surcharge
                    else ""
                ),
            )
        )
        trace.append(TraceEntry("coverage", True, APPLIED, f"covered from {coverage.isoformat()}"))
        if coverage > policy.plan_end:
            trace.append(TraceEntry(
                "coverage", False, NOTE,
                f"coverage would start after the plan year ends ({policy.plan_end.isoformat()}): "
                "the year takes no such payment (owed_on answers closed)"))

    personal = standard + surcharge - sum(s.amount_fen for s in subsidies)
    return Determination(
        standard_fen=standard,
        personal_fen=personal,
        subsidies=subsidies,
        surcharge_fen=surcharge,
        insured_category=category,
        coverage_start=coverage,
        policy_version=policy.version,
        assumptions=assumptions,
        trace=trace,
        on_time_until=on_time_until,
    )
