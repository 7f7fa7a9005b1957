"""Pure helpers that read a policy: ages, insured category, group validity, rule matching, shares.

Both the per-person path (determine.py) and the vectorised path (batch.py) take money figures
from share_amounts(), so the two can never disagree on an amount.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .codes import group_label
from .policy import Policy
from .schema import SubsidyRule


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


def describe_age_range(rule: SubsidyRule) -> str:
    rng = rule.when.age
    assert rng is not None
    if rng.min is not None and rng.max is not None:
        return f"aged {rng.min} to {rng.max}"
    if rng.min is not None:
        return f"aged {rng.min} or over"
    return f"aged {rng.max} or under"


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


def derive_category(policy: Policy, birth: dt.date, declared: str | None) -> tuple[str, str]:
    """(category, reason). Declared categories count only where the plan accepts them."""
    rule = policy.category_rule
    if rule.minor_born_on_or_after is not None:
        is_minor = birth >= rule.minor_born_on_or_after
        why = (
            f"born {birth.isoformat()}, "
            f"{'on or after' if is_minor else 'before'} {rule.minor_born_on_or_after.isoformat()}"
        )
    else:
        assert rule.minor_age_below is not None
        age = age_for_plan(policy.age_basis, birth, policy.plan_year)
        is_minor = age < rule.minor_age_below
        under = "under" if is_minor else "not under"
        why = f"age {age} ({policy.age_basis}), {under} {rule.minor_age_below}"
    derived = "minor" if is_minor else "adult"
    if declared is not None and declared in rule.declared_accepted:
        return (
            declared,
            f"declared {declared} (accepted by this plan); by birth date alone: {derived}, {why}",
        )
    if declared is not None and declared != derived:
        return derived, (
            f"{derived}: {why}; the declared category {declared!r} is not accepted by this plan"
        )
    return derived, f"{derived}: {why}"


@dataclass(frozen=True)
class MembershipCheck:
    counts: bool
    reason: str


def membership_counts(
    policy: Policy,
    code: str,
    certified_on: dt.date | None,
    ends_on: dt.date | None,
) -> MembershipCheck:
    label = group_label(code)
    if ends_on is not None and ends_on < policy.plan_start:
        return MembershipCheck(
            False,
            f"{label} ended {ends_on.isoformat()}, "
            f"before the plan year starts {policy.plan_start.isoformat()}",
        )
    if certified_on is not None and certified_on > policy.plan_end:
        return MembershipCheck(
            False, f"{label} certified {certified_on.isoformat()}, after the plan year ended"
        )
    dl = policy.periods.group_list_deadline
    if dl is not None and code in dl.groups and certified_on is not None and certified_on > dl.date:
        return MembershipCheck(
            False,
            f"{label} certified {certified_on.isoformat()}, "
            f"after the list deadline {dl.date.isoformat()}",
        )
    return MembershipCheck(True, f"{label} counts for plan year {policy.plan_year}")


def group_dates_ok(
    rule: SubsidyRule, certified_on: dt.date | None, later_birth_on: dt.date | None
) -> tuple[bool, str]:
    cond = rule.when.group_dates
    if cond is None:
        return True, ""
    if cond.certified_before is not None:
        if certified_on is None:
            return False, (
                f"certification date unknown; the plan requires certification before "
                f"{cond.certified_before.isoformat()}"
            )
        if certified_on >= cond.certified_before:
            return False, (
                f"certified {certified_on.isoformat()}, "
                f"not before {cond.certified_before.isoformat()}"
            )
    if cond.no_later_birth_on_or_after is not None and later_birth_on is not None:
        if later_birth_on >= cond.no_later_birth_on_or_after:
            return False, (
                f"another child born {later_birth_on.isoformat()}, on or after "
                f"{cond.no_later_birth_on_or_after.isoformat()}"
            )
    return True, "date conditions met"
