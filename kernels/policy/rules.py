"""Pure helpers that read a policy: ages, insured category, group validity, rule matching, shares.

Both the per-person path (determine.py) and the vectorised path (batch.py) take money figures
from share_amounts(), so the two can never disagree on an amount.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from kernels.codes import INSURED_CATEGORIES, group_name
from shared.i18n import Text

from .errors import ImpossibleCategory, UnknownInsuredCategory
from .policy import Policy
from .schema import DeclaredLimit, SubsidyRule

CATEGORY_ZH = {"adult": "成年居民", "minor": "少年儿童", "student": "学生"}
# codes for a declared category in the bulk path: index into INSURED_CATEGORIES, or these
NOT_DECLARED = -1
UNKNOWN_DECLARED = -2


def age_for_plan(basis: str, birth: dt.date, plan_year: int) -> int:
    """Age used by the plan's age rules, on the basis the policy file declares."""
    if basis == "age_reached_in_plan_year":
        return plan_year - birth.year
    if basis == "age_on_jan_1_of_plan_year":
        return plan_year - birth.year - (0 if (birth.month, birth.day) == (1, 1) else 1)
    raise ValueError(f"policy declares no usable age basis ({basis!r}); refusing to guess")


def other_basis(basis: str) -> str:
    return (
        "age_on_jan_1_of_plan_year"
        if basis == "age_reached_in_plan_year"
        else "age_reached_in_plan_year"
    )


def age_matches(rule: SubsidyRule, age: int) -> bool:
    rng = rule.when.age
    if rng is None:
        return True
    if rng.min is not None and age < rng.min:
        return False
    return not (rng.max is not None and age > rng.max)


def describe_age_range(rule: SubsidyRule) -> Text:
    rng = rule.when.age
    assert rng is not None
    if rng.min is not None and rng.max is not None:
        return Text(f"{rng.min}-{rng.max} 周岁", f"aged {rng.min} to {rng.max}")
    if rng.min is not None:
        return Text(f"{rng.min} 周岁及以上", f"aged {rng.min} or over")
    return Text(f"{rng.max} 周岁及以下", f"aged {rng.max} or under")


AGE_BASIS_NAMES = {
    "age_reached_in_plan_year": Text("按年度内达到的周岁计", "age reached in the plan year"),
    "age_on_jan_1_of_plan_year": Text("按年度1月1日的周岁计", "age on 1 January of the plan year"),
}

# the section a source quote starts with: 二(三)1, 三(二), 六1, 二(二)(1), 四(五) ...
_SECTION = re.compile(r"^\s*([一二三四五六七八九十]+"
                      r"(?:[(（][一二三四五六七八九十\d]{1,3}[)）]|\d{1,2})*)\s*(?:[:：]|$)")


def section_of(source: str) -> str:
    """The plan's own section a `source` quote cites ('二(三)1'), or '' when it names none."""
    found = _SECTION.match(source or "")
    return found.group(1) if found else ""


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def rule_name(rule: SubsidyRule) -> Text:
    """The rule's label: Chinese (its Chinese part, or its conditions), and the label as the
    policy file writes it for English."""
    head = rule.label.split(" — ")[0].strip()
    if not _has_chinese(head):
        head = conditions_text(rule).zh or rule.id
    return Text(head, rule.label)


def conditions_text(rule: SubsidyRule) -> Text:
    """Who the rule is for, briefly: '60-69 周岁', '低保对象、特困人员'."""
    parts: list[Text] = []
    when = rule.when
    if when.groups_any:
        names = [group_name(c) for c in when.groups_any]
        parts.append(Text("、".join(n.zh for n in names), ", ".join(n.en for n in names)))
    if when.age is not None:
        parts.append(describe_age_range(rule))
    return Text("，".join(p.zh for p in parts), ", ".join(p.en for p in parts))


def share_amounts(rule: SubsidyRule, standard_fen: int) -> list[tuple[str, int]]:
    """(budget line, fen) for each share of the rule, in order; never more than the standard."""
    out: list[tuple[str, int]] = []
    remaining = standard_fen
    for share in rule.shares:
        if share.kind == "full":
            amount = standard_fen
        elif share.kind == "percent":
            amount = (standard_fen * share.basis_points + 5000) // 10000  # half up, in fen
        elif share.kind == "fixed":
            amount = share.fen
        else:  # remainder
            amount = remaining
        amount = max(0, min(amount, remaining))
        remaining -= amount
        out.append((share.funding_source, amount))
    return out


def describe_share(rule: SubsidyRule, index: int) -> str:
    share = rule.shares[index]
    if share.kind == "full":
        return "the whole personal contribution"
    if share.kind == "percent":
        return f"{share.percent}% of the standard"
    if share.kind == "fixed":
        return f"a fixed {share.yuan} yuan"
    return "the remainder"


def age_window(birth: dt.date, plan_year: int) -> tuple[int, int]:
    """(completed years on 1 January, completed years on 31 December) of the plan year: every
    age (周岁) the person has on some day of the year lies between the two."""
    first = plan_year - birth.year - (0 if (birth.month, birth.day) == (1, 1) else 1)
    return max(0, first), max(0, plan_year - birth.year)


def _limit_text(limit: DeclaredLimit) -> str:
    if limit.age_min is not None and limit.age_max is not None:
        return f"{limit.age_min}至{limit.age_max}周岁"
    if limit.age_min is not None:
        return f"年满{limit.age_min}周岁"
    return f"不超过{limit.age_max}周岁"


def declaration_possible(policy: Policy, category: str, birth: dt.date) -> str | None:
    """None when the person can be declared `category` under the plan, else why not (Chinese).

    A declaration is possible when the person has, on some day of the plan year, an age the
    plan's definition of the category allows (category_rule.declared_limits)."""
    limit = policy.category_rule.limit(category)
    first, last = age_window(birth, policy.plan_year)
    if (limit.age_min is None or last >= limit.age_min) and (
        limit.age_max is None or first <= limit.age_max
    ):
        return None
    age = f"{first}周岁" if first == last else f"{first}至{last}周岁"
    assumed = "".join(
        f"；假定：{policy.describe_assumption(a)}" for a in limit.assumptions
    )
    return (
        f"{birth.isoformat()}出生，{policy.plan_year}年内为{age}，不可能是本方案的"
        f"“{CATEGORY_ZH[category]}”（{category}）：本方案要求{_limit_text(limit)}"
        f"（依据：{limit.source}{assumed}）"
    )


def declaration_assumptions(policy: Policy, category: str) -> list[str]:
    """The assumptions behind the limit a declaration was checked against."""
    return list(policy.category_rule.limit(category).assumptions)


def derive_category(policy: Policy, birth: dt.date, declared: str | None) -> tuple[str, Text]:
    """(category, reason). Declared categories count only where the plan accepts them; a
    declaration that cannot be true for the person under the plan's own definition (and an
    unknown category) is refused with ImpossibleCategory / UnknownInsuredCategory, naming the
    field insured_category. The per-person and the bulk path (declared_categories) agree."""
    if declared is not None:
        if declared not in INSURED_CATEGORIES:
            raise UnknownInsuredCategory(declared)
        why_not = declaration_possible(policy, declared, birth)
        if why_not is not None:
            raise ImpossibleCategory(declared, why_not)
    rule = policy.category_rule
    if rule.minor_born_on_or_after is not None:
        is_minor = birth >= rule.minor_born_on_or_after
        edge = rule.minor_born_on_or_after.isoformat()
        why = Text(
            f"{birth.isoformat()} 出生，{'不早于' if is_minor else '早于'} {edge}",
            f"born {birth.isoformat()}, {'on or after' if is_minor else 'before'} {edge}",
        )
    else:
        assert rule.minor_age_below is not None
        age = age_for_plan(policy.age_basis, birth, policy.plan_year)
        is_minor = age < rule.minor_age_below
        under = "under" if is_minor else "not under"
        basis = AGE_BASIS_NAMES.get(policy.age_basis, Text(policy.age_basis, policy.age_basis))
        why = Text(f"{age} 周岁（{basis.zh}），{'不满' if is_minor else '已满'} "
                   f"{rule.minor_age_below} 周岁",
                   f"age {age} ({policy.age_basis}), {under} {rule.minor_age_below}")
    derived = "minor" if is_minor else "adult"
    d_zh, c_zh = CATEGORY_ZH[derived], CATEGORY_ZH.get(declared or "", declared or "")
    if declared is not None and declared in rule.declared_accepted:
        return declared, Text(
            f"申报为{c_zh}（本方案接受）；仅按出生日期为{d_zh}：{why.zh}",
            f"declared {declared} (accepted by this plan); by birth date alone: {derived}, "
            f"{why.en}")
    if declared is not None and declared != derived:
        return derived, Text(
            f"{d_zh}：{why.zh}；本方案不接受申报的类别“{c_zh}”",
            f"{derived}: {why.en}; the declared category {declared!r} is not accepted by this plan")
    return derived, Text(f"{d_zh}：{why.zh}", f"{derived}: {why.en}")


def category_codes(names: list[str | None]) -> np.ndarray:
    """Declared categories (text or None) as the bulk path's int8 codes: index into
    INSURED_CATEGORIES, NOT_DECLARED (-1), or UNKNOWN_DECLARED (-2) for a text that is no
    category (refused, as derive_category refuses it)."""
    index = {c: i for i, c in enumerate(INSURED_CATEGORIES)}
    return np.fromiter(
        (NOT_DECLARED if n is None else index.get(n, UNKNOWN_DECLARED) for n in names),
        np.int8,
        len(names),
    )


def _first_day_of_age(plan_year: int, age: int) -> int:
    """Day number (since 1970-01-01) of the last birth date with `age` completed years on
    31 December of the plan year; born after it, the person is younger all year."""
    return (dt.date(plan_year - age, 12, 31) - dt.date(1970, 1, 1)).days


def declared_categories(
    policy: Policy, birth_days: np.ndarray, declared: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The bulk twin of derive_category: (category codes, refused) for birth dates in days
    since 1970-01-01 and declared codes (category_codes). refused marks rows derive_category
    would refuse (unknown category, or a declaration that cannot be true); their category is
    the one derived from the birth date."""
    birth = np.asarray(birth_days, dtype=np.int64)
    d = np.asarray(declared).astype(np.int8, copy=False)
    rule = policy.category_rule
    year = policy.plan_year
    epoch = dt.date(1970, 1, 1)
    if rule.minor_born_on_or_after is not None:
        minor_from = (rule.minor_born_on_or_after - epoch).days
    else:
        assert rule.minor_age_below is not None
        minor_from = _minor_from(policy)
    cat = (birth >= minor_from).astype(np.int8)  # 1 = minor, 0 = adult
    refused = (d == UNKNOWN_DECLARED) | (d < UNKNOWN_DECLARED) | (d >= len(INSURED_CATEGORIES))
    for c, name in enumerate(INSURED_CATEGORIES):
        limit = rule.limit(name)
        rows = d == c
        bad = np.zeros(birth.shape[0], dtype=bool)
        if limit.age_min is not None:  # never reaches age_min in the year: born too late
            bad |= birth > _first_day_of_age(year, limit.age_min)
        if limit.age_max is not None:  # older than age_max all year: age on 1 Jan > max
            bad |= birth < (dt.date(year - limit.age_max - 1, 1, 2) - epoch).days
        refused |= rows & bad
        if name in rule.declared_accepted:
            cat = np.where(rows & ~bad, np.int8(c), cat).astype(np.int8)
    return cat, refused


def person_dependent_assumptions(
    policy: Policy, winner: SubsidyRule | None, category: str
) -> list[str]:
    """The assumptions determine() lists depending on a person's own facts (a declared
    category, a membership starting or ending in the year, a group date condition, a tie),
    for bulk paths that store one list per (winning rule, category): everyone on the line of
    `winner` (None: no subsidy) and `category` may rest on them."""
    ids: list[str] = list(policy.model.membership_in_year.assumptions)
    if len(set(policy.standards_fen.values())) > 1:
        ids += declaration_assumptions(policy, category)
    for rule in policy.rules:
        if rule.when.group_dates is not None:
            ids += rule.when.group_dates.assumptions
    if winner is not None:
        ids += tie_assumptions(winner)
    return [policy.describe_assumption(a) for a in dict.fromkeys(ids)]


def without_refused(columns: Any, result: Any) -> Any:
    """A copy of batch columns in which the rows determine_batch refused (result.refused) are
    undeclared, for the rows a bulk caller decides one by one: they get the category derived
    from the birth date, as the batch's own figures do, instead of failing the whole chunk."""
    declared = np.where(result.refused, NOT_DECLARED, columns.insured_category).astype(np.int8)
    return dataclasses.replace(columns, insured_category=declared)


def _minor_from(policy: Policy) -> int:
    """Day number X such that the plan's age rule makes a person a minor exactly when born >= X."""
    rule = policy.category_rule
    assert rule.minor_age_below is not None
    year, age, epoch = policy.plan_year, rule.minor_age_below, dt.date(1970, 1, 1)
    if policy.age_basis == "age_reached_in_plan_year":
        return (dt.date(year - age + 1, 1, 1) - epoch).days
    if policy.age_basis == "age_on_jan_1_of_plan_year":
        return (dt.date(year - age, 1, 2) - epoch).days
    raise ValueError(f"policy declares no usable age basis ({policy.age_basis!r})")


def could_overlap(a: SubsidyRule, b: SubsidyRule) -> bool:
    """Whether one person could match both rules (false only where the rules themselves say
    they cannot: disjoint age ranges, or one excludes every group the other needs)."""
    ra, rb = a.when.age, b.when.age
    if ra is not None and rb is not None:
        lo = max(ra.min or 0, rb.min or 0)
        hi = min(ra.max if ra.max is not None else 999, rb.max if rb.max is not None else 999)
        if lo > hi:
            return False
    for x, y in ((a, b), (b, a)):
        if y.when.groups_any and set(y.when.groups_any) <= set(x.when.exclude_groups):
            return False
    return True


@dataclass(frozen=True)
class MembershipCheck:
    counts: bool
    reason: Text
    # the plan's membership_in_year assumptions, when a counted membership starts or ends
    # inside the plan year (the answer rests on reading it as counting for the whole year)
    assumptions: tuple[str, ...] = ()


def membership_counts(
    policy: Policy,
    code: str,
    certified_on: dt.date | None,
    ends_on: dt.date | None,
) -> MembershipCheck:
    name = group_name(code)
    zh, en = name.zh, f"{code} ({name.zh})"
    if ends_on is not None and ends_on < policy.plan_start:
        return MembershipCheck(False, Text(
            f"{zh}身份已于 {ends_on.isoformat()} 终止，"
            f"早于参保年度开始（{policy.plan_start.isoformat()}）",
            f"{en} ended {ends_on.isoformat()}, "
            f"before the plan year starts {policy.plan_start.isoformat()}"))
    if certified_on is not None and certified_on > policy.plan_end:
        return MembershipCheck(False, Text(
            f"{zh}身份于 {certified_on.isoformat()} 认定，晚于参保年度结束",
            f"{en} certified {certified_on.isoformat()}, after the plan year ended"))
    dl = policy.periods.group_list_deadline
    if dl is not None and code in dl.groups and certified_on is not None and certified_on > dl.date:
        return MembershipCheck(False, Text(
            f"{zh}身份于 {certified_on.isoformat()} 认定，晚于名单截止日 {dl.date.isoformat()}"
            f"（{section_of(dl.source) or dl.source}）",
            f"{en} certified {certified_on.isoformat()}, "
            f"after the list deadline {dl.date.isoformat()}"))
    within: list[Text] = []
    if certified_on is not None and certified_on > policy.plan_start:
        within.append(Text(f"{certified_on.isoformat()} 认定",
                           f"certified {certified_on.isoformat()}"))
    if ends_on is not None and ends_on < policy.plan_end:
        within.append(Text(f"{ends_on.isoformat()} 终止", f"ends {ends_on.isoformat()}"))
    if within:
        return MembershipCheck(
            True,
            Text(f"{zh}身份{'、'.join(w.zh for w in within)}，在 {policy.plan_year} 年度内："
                 "参保年度内任一天具有该身份即按全年资助",
                 f"{en} {' and '.join(w.en for w in within)}, during plan year "
                 f"{policy.plan_year}: held on a day of the plan year, it counts for the whole "
                 "year's contribution"),
            tuple(policy.model.membership_in_year.assumptions),
        )
    return MembershipCheck(True, Text(f"{zh}身份在 {policy.plan_year} 年度有效",
                                      f"{en} counts for plan year {policy.plan_year}"))


def tie_assumptions(winner: SubsidyRule) -> list[str]:
    """Assumptions to list when the winner beat a rule of equal value paid by another line."""
    return list(winner.tie_break.assumptions) if winner.tie_break is not None else []


def same_lines(a: list[tuple[str, int]], b: list[tuple[str, int]]) -> bool:
    """Whether two share lists put the same amounts on the same budget lines."""

    def by_line(lines: list[tuple[str, int]]) -> dict[str, int]:
        out: dict[str, int] = {}
        for line, amount in lines:
            if amount:
                out[line] = out.get(line, 0) + amount
        return out

    return by_line(a) == by_line(b)


def group_dates_ok(
    rule: SubsidyRule, certified_on: dt.date | None, later_birth_on: dt.date | None
) -> tuple[bool, Text]:
    cond = rule.when.group_dates
    if cond is None:
        return True, Text("", "")
    if cond.certified_before is not None:
        before = cond.certified_before.isoformat()
        if certified_on is None:
            return False, Text(
                f"认定日期不详；本方案要求在 {before} 之前认定",
                f"certification date unknown; the plan requires certification before {before}")
        if certified_on >= cond.certified_before:
            return False, Text(
                f"{certified_on.isoformat()} 认定，不在 {before} 之前",
                f"certified {certified_on.isoformat()}, not before {before}")
    if cond.no_later_birth_on_or_after is not None and later_birth_on is not None:
        if later_birth_on >= cond.no_later_birth_on_or_after:
            edge = cond.no_later_birth_on_or_after.isoformat()
            return False, Text(
                f"{later_birth_on.isoformat()} 又生育子女，不早于 {edge}",
                f"another child born {later_birth_on.isoformat()}, on or after {edge}")
    return True, Text("认定日期符合要求", "date conditions met")
