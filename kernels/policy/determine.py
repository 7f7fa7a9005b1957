"""Per-person determination: what one person owes for a plan year, who pays the rest, and why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from kernels.codes import (
    GROUP_CODES,
    INSURED_CATEGORIES,
    budget_line_name,
    group_label,
    group_name,
)
from shared.i18n import Text
from shared.money import fen_to_yuan

from .coverage import late_coverage_start, payment_timing
from .errors import UnknownGroupCode, UnknownInsuredCategory
from .policy import Policy
from .rules import (
    AGE_BASIS_NAMES,
    age_for_plan,
    age_matches,
    declaration_assumptions,
    derive_category,
    describe_age_range,
    group_dates_ok,
    membership_counts,
    other_basis,
    rule_name,
    same_lines,
    section_of,
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
    PAYERS,
    SKIPPED,
    WON,
    TraceEntry,
    join,
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
    reason: Text

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
) -> tuple[bool, Text]:
    rule = policy.newborn
    if rule is None:
        return False, Text("", "")
    birth = person.birth_date.isoformat()
    if not (policy.plan_start <= person.birth_date <= policy.plan_end):
        return False, Text(f"{birth} 出生，不在 {policy.plan_year} 参保年度内",
                           f"born {birth}, not in plan year {policy.plan_year}")
    if registered is None:
        return False, Text("在参保年度内出生，但没有登记日期",
                           "born in the plan year but no registration date given")
    days = (registered - person.birth_date).days
    limit = rule.register_within_days
    cite = _cite(rule.source)
    if 0 <= days <= limit:
        return True, Text(
            f"{birth} 出生，{registered.isoformat()} 登记，相隔 {days} 日（{limit} 日内{cite}）",
            f"born {birth} and registered {registered.isoformat()}, "
            f"{days} days later (within {limit})")
    return False, Text(f"出生后 {days} 日才登记，超过允许的 {limit} 日{cite}",
                       f"registered {days} days after birth, beyond the {limit} days allowed")


def _cite(source: str, lead: str = "，") -> str:
    """'，二(三)1' for a quote that names its section, else ''."""
    section = section_of(source)
    return f"{lead}{section}" if section else ""


def yuan(fen: int) -> str:
    """200 for 20000 fen, 200.50 for 20050: amounts as a person writes them."""
    text = fen_to_yuan(fen)
    return text[:-3] if text.endswith(".00") else text


def _group_list(codes: Sequence[str]) -> Text:
    names = [group_name(c) for c in codes]
    return Text("、".join(n.zh for n in names), ", ".join(group_label(c) for c in codes))


def payers_text(policy: Policy, personal_fen: int, lines: list[tuple[str, int]],
                rule: SubsidyRule | None, note: Text | None = None) -> Text:
    """Who pays what: '个人缴费 200 元；市财政 200 元（60-69 周岁，二(三)1）'."""
    zh = [f"个人缴费 {yuan(personal_fen)} 元"]
    en = [f"the person pays {yuan(personal_fen)} yuan"]
    for line, amount in lines:
        if amount > 0:
            name = budget_line_name(line)
            zh.append(f"{name.zh} {yuan(amount)} 元")
            en.append(f"{name.en} pays {yuan(amount)} yuan")
    if rule is not None:
        # an age rule says the ages; a group rule its own name (the groups can be many)
        who = describe_age_range(rule) if rule.when.age is not None and not \
            rule.when.groups_any else rule_name(rule)
        where = section_of(rule.source)
        zh_why = "，".join(p for p in (who.zh, where) if p)
        en_why = ", ".join(p for p in (who.en, f"section {where}" if where else "") if p)
    else:
        zh_why = en_why = ""
    if note is not None:
        zh_why = "，".join(p for p in (note.zh, zh_why) if p)
        en_why = ", ".join(p for p in (note.en, en_why) if p)
    return Text("；".join(zh) + (f"（{zh_why}）" if zh_why else ""),
                "; ".join(en) + (f" ({en_why})" if en_why else ""))


def determine(
    policy: Policy,
    person: PersonFacts,
    enrolled_on: dt.date | None = None,
    paid_on: dt.date | None = None,
) -> Determination:
    """Decide one person's contribution for the policy's plan year.

    enrolled_on stands in for person.registered_on when that is missing (newborn registration).
    paid_on None means the payment is assumed to fall inside the collection period.
    Every trace entry reads in Chinese (reason) and English (reason_en).
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
    std_source = next((s.source for s in policy.model.standards if category in s.categories), "")
    trace.append(TraceEntry.of("category", True, APPLIED, Text(
        f"{why.zh}；个人缴费标准 {yuan(standard)} 元{_cite(std_source)}",
        f"{why.en}; standard {fen_to_yuan(standard)} yuan")))
    if len(set(policy.standards_fen.values())) > 1:  # the category decides the amount
        assume(list(policy.category_rule.assumptions))
        if category == person.insured_category:  # a declaration checked against its limit
            assume(declaration_assumptions(policy, category))

    # 2. newborns registered in time pay nothing and are covered from birth
    registered = person.registered_on or enrolled_on
    newborn, why = _is_newborn(policy, person, registered)
    if policy.newborn is not None:
        trace.append(TraceEntry.of("newborn", newborn, APPLIED if newborn else NOT_MATCHED, why))
    if newborn:
        assert policy.newborn is not None
        assume(list(policy.newborn.assumptions))
        birth = person.birth_date.isoformat()
        trace.append(TraceEntry.of("coverage", True, APPLIED, Text(
            f"自出生之日 {birth} 起享受待遇；当年不缴费{_cite(policy.newborn.source)}",
            f"covered from birth, {birth}; nothing to pay this year")))
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
            trace.append(TraceEntry.of(f"group:{m.code}", False, NOT_COUNTED, check.reason))

    age = age_for_plan(policy.age_basis, person.birth_date, policy.plan_year)
    alt_age = age_for_plan(other_basis(policy.age_basis), person.birth_date, policy.plan_year)
    basis = AGE_BASIS_NAMES.get(policy.age_basis, Text(policy.age_basis, policy.age_basis))

    # 5. evaluate every rule
    def evaluate(rule: SubsidyRule) -> tuple[bool, Text]:
        when = rule.when
        reasons: list[Text] = []
        if when.groups_any:
            held = [c for c in when.groups_any if c in valid]
            if not held:
                names = _group_list(when.groups_any)
                return False, Text(f"不属于{names.zh}", f"holds none of {names.en}")
            if when.group_dates is not None:
                assume(list(when.group_dates.assumptions))  # the date condition decides
                ok_codes = []
                last_why = Text("", "")
                for code in held:
                    for m in valid[code]:
                        ok, last_why = group_dates_ok(rule, m.certified_on, m.later_birth_on)
                        if ok:
                            ok_codes.append(code)
                if not ok_codes:
                    first = group_name(held[0])
                    return False, Text(f"{first.zh}：{last_why.zh}",
                                       f"{group_label(held[0])}: {last_why.en}")
                held = ok_codes
            names = _group_list(list(dict.fromkeys(held)))
            reasons.append(Text(f"属于{names.zh}", f"holds {names.en}"))
        if when.exclude_groups:
            excluded = [c for c in when.exclude_groups if c in valid]
            if excluded:
                names = _group_list(excluded)
                return False, Text(f"已属于{names.zh}，本项不适用",
                                   f"excluded because the person is {names.en}")
        if when.age is not None:
            rng = describe_age_range(rule)
            if not age_matches(rule, age):
                return False, Text(f"{age} 周岁（{basis.zh}），不在 {rng.zh}",
                                   f"age {age} ({policy.age_basis}) is not {rng.en}")
            reasons.append(Text(f"{age} 周岁（{basis.zh}），属于 {rng.zh}",
                                f"age {age} ({policy.age_basis}) is {rng.en}"))
        if when.paid_within_collection_period and not (in_period or in_extension):
            return False, Text(f"仅适用于集中缴费期内的缴费（缴费日 {paid_on}）",
                               "applies only to payments within the collection period "
                               f"(paid {paid_on})")
        return True, join(reasons)

    primary, combos, fallbacks = policy.rule_groups
    results: dict[str, tuple[bool, Text]] = {r.id: evaluate(r) for r in primary}
    by_id = {r.id: r for r in policy.rules}

    def names_of(ids: list[str]) -> Text:
        found = [rule_name(by_id[i]) if i in by_id else Text(i, i) for i in ids]
        return Text("、".join(f.zh for f in found), ", ".join(ids))

    for rule in combos:
        ok, why = evaluate(rule)
        if ok:
            partners = [o for o in rule.when.also_qualifies_for if results.get(o, (False, ""))[0]]
            if partners:
                p = names_of(partners)
                why = Text(f"{why.zh}；同时符合“{p.zh}”，按方案的叠加规定",
                           f"{why.en}; also qualifies for {p.en}, so the plan's combination "
                           "applies")
            else:
                p = names_of(list(rule.when.also_qualifies_for))
                ok, why = False, Text(f"{why.zh}，但不符合“{p.zh}”中的任何一项",
                                      f"{why.en}, but qualifies for none of {p.en}")
        results[rule.id] = (ok, why)
    any_primary = any(results[r.id][0] for r in (*primary, *combos))
    skipped: set[str] = set()
    for rule in fallbacks:
        ok, why = evaluate(rule)
        if ok and any_primary:
            skipped.add(rule.id)
            results[rule.id] = (False, Text(
                f"{why.zh}，但已享受其他资助，本项仅在无其他资助时适用",
                f"{why.en}, but another subsidy applies and this rule is only a fallback"))
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
        name = rule_name(rule)
        cite = _cite(rule.source, "，依据 ")
        if not ok:
            outcome = SKIPPED if rule.id in skipped else NOT_MATCHED
            trace.append(TraceEntry.of(rule.id, False, outcome, Text(
                f"{name.zh}：{why.zh}" if why.zh else name.zh, why.en)))
            continue
        cand = next(c for c in candidates if c.rule.id == rule.id)
        amount = yuan(cand.total)
        if cand is winner and forfeited:
            trace.append(TraceEntry.of(rule.id, True, FORFEITED, Text(
                f"{name.zh}：{why.zh}；本可资助 {amount} 元，但逾期缴费者须全额自缴"
                f"{_cite(lp.source, '，依据 ')}",
                f"{why.en}; would pay {fen_to_yuan(cand.total)} yuan, but late payers pay the "
                "full cost themselves")))
        elif cand is winner:
            trace.append(TraceEntry.of(rule.id, True, WON, Text(
                f"{name.zh}：{why.zh}；此项资助 {amount} 元，为对本人最优惠的一项{cite}",
                f"{why.en}; this rule pays {fen_to_yuan(cand.total)} yuan, the most generous "
                "for the person")))
        else:
            assert winner is not None
            w_name = rule_name(winner.rule)
            if cand.total < winner.total:
                lost = Text(f"此项资助 {amount} 元，少于“{w_name.zh}”",
                            f"this rule pays {fen_to_yuan(cand.total)} yuan, less than "
                            f"{winner.rule.id}")
            else:
                lost = Text(
                    f"此项资助 {amount} 元，与“{w_name.zh}”相同，后者优先级在前"
                    f"（{winner.rule.priority} 先于 {rule.priority}）；不叠加享受",
                    f"this rule pays {fen_to_yuan(cand.total)} yuan, the same as "
                    f"{winner.rule.id}, which has the earlier priority ({winner.rule.priority} "
                    f"before {rule.priority}); no stacking")
                if not same_lines(cand.lines, winner.lines):  # the tie decides the budget line
                    assume(tie_assumptions(winner.rule))
                    if winner.rule.tie_break is not None:
                        src = winner.rule.tie_break.source
                        lost = Text(f"{lost.zh}；并列时依据：{src}",
                                    f"{lost.en}; tie decided by: {src}")
            trace.append(TraceEntry.of(rule.id, True, LOST, Text(
                f"{name.zh}：{why.zh}；{lost.zh}", f"{why.en}; {lost.en}")))
    if not policy.rules:
        trace.append(TraceEntry.of("subsidy", False, NOTE, Text(
            "本方案没有资助规定", "this plan has no subsidy rules")))

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
        birth = person.birth_date.isoformat()
        trace.append(TraceEntry.of("coverage", True, NOTE, Text(
            f"{birth} 出生，在参保年度内：待遇不早于出生之日",
            f"born {birth}, in the plan year: coverage never starts before birth")))
    collection_cite = _cite(policy.model.periods.collection.source)
    if paid_on is None:
        trace.append(TraceEntry.of("coverage", True, APPLIED, Text(
            f"未给出缴费日期：按集中缴费期内缴费计；自 {coverage.isoformat()} 起享受待遇"
            f"{collection_cite}",
            "no payment date given: assumed paid in the collection period; "
            f"covered from {coverage.isoformat()}")))
    elif not late:
        paid = paid_on.isoformat()
        if in_extension:
            to = ext_until.isoformat() if ext_until else ""
            why = Text(f"{paid} 缴费，在资助对象的延长期内（至 {to}）",
                       f"paid {paid}, within the extension for subsidized people (to {to})")
        elif paid_on < policy.collection_start:
            why = Text(f"{paid} 缴费，早于集中缴费期开始；按期内缴费计",
                       f"paid {paid}, before the collection period opened; counted as in period")
        else:
            until = policy.in_period_until.isoformat()
            why = Text(f"{paid} 缴费，在集中缴费期内（至 {until}{collection_cite}）",
                       f"paid {paid}, within the collection period (to {until})")
        trace.append(TraceEntry.of("coverage", True, APPLIED, Text(
            f"{why.zh}；自 {coverage.isoformat()} 起享受待遇",
            f"{why.en}; covered from {coverage.isoformat()}")))
    else:
        assert paid_on is not None
        assume(list(lp.assumptions))
        if lp.surcharge == "fiscal_subsidy":
            surcharge = policy.fiscal_subsidy_fen
            assume(list(policy.model.fiscal_subsidy.assumptions))
        coverage, wait = late_coverage_start(
            policy, paid_on, person.broken_years, person.paid_back_years
        )
        coverage = max(coverage, floor)
        until = policy.in_period_until.isoformat()
        extra = Text(
            f"；加收 {yuan(surcharge)} 元（人均财政补助标准）" if surcharge else "",
            f"; surcharge {fen_to_yuan(surcharge)} yuan (the fiscal subsidy per person)"
            if surcharge else "")
        trace.append(TraceEntry.of("late_payment", True, APPLIED, Text(
            f"{paid_on.isoformat()} 缴费，晚于集中缴费期（至 {until}）；{wait.zh}{extra.zh}"
            f"{_cite(lp.source, '，依据 ')}",
            f"paid {paid_on.isoformat()}, after the collection period (to {until}); "
            f"{wait.en}{extra.en}")))
        trace.append(TraceEntry.of("coverage", True, APPLIED, Text(
            f"自 {coverage.isoformat()} 起享受待遇", f"covered from {coverage.isoformat()}")))
        if coverage > policy.plan_end:
            end = policy.plan_end.isoformat()
            trace.append(TraceEntry.of("coverage", False, NOTE, Text(
                f"待遇起始日将晚于参保年度结束（{end}）：本年度不再受理此缴费",
                f"coverage would start after the plan year ends ({end}): the year takes no "
                "such payment (owed_on answers closed)")))

    personal = standard + surcharge - sum(s.amount_fen for s in subsidies)
    if winner is not None and not forfeited:
        payers = payers_text(policy, personal, winner.lines, winner.rule)
    else:
        note = (Text("逾期缴费，不享受资助", "paid late, no subsidy") if forfeited
                else Text(f"无资助，个人缴费标准{_cite(std_source, '')}".rstrip(),
                          "no subsidy; the standard contribution"))
        payers = payers_text(policy, personal, [], None, note)
    trace.append(TraceEntry.of("payers", True, PAYERS, payers))
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
