"""The shape of a policy file (one YAML file per region and plan year), checked by pydantic v2.

Every model forbids unknown keys, so a misspelt field is an error, never silently ignored.
Amounts are written in yuan as strings or integers ("400", 280, "12.50"); floats are refused.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kernels.codes import AgeBasis, BudgetLine, GroupCode, InsuredCategory
from shared.money import InvalidAmount, yuan_to_fen

Source = Annotated[str, Field(min_length=2, description="quote or section of the seed text")]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


def _check_yuan(value: object) -> str | int:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("amounts in yuan must be written as a string or an integer, never a float")
    if not isinstance(value, (str, int)):
        raise ValueError("amount in yuan expected")
    try:
        fen = yuan_to_fen(value)
    except InvalidAmount as exc:
        raise ValueError(str(exc)) from None
    if fen < 0:
        raise ValueError("amounts cannot be negative")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceDocument(Strict):
    title: str
    document_number: str | None = Field(None, description="文号, where the document has one")
    issuer: str
    issued_on: dt.date
    seed_file: str
    based_on: list[str] = []


class Assumption(Strict):
    id: Identifier
    statement: str = Field(min_length=5)
    statement_zh: str | None = Field(None, min_length=2,
                                     description="the statement in Chinese (what a clerk reads)")
    reason: str = Field(min_length=5, description="why the plan text does not settle it")


class Money(Strict):
    yuan: str | int
    source: Source
    minimum_only: bool = Field(False, description="the plan gives a floor ('不低于'), not a figure")
    assumptions: list[Identifier] = []

    _v = field_validator("yuan", mode="before")(_check_yuan)

    @property
    def fen(self) -> int:
        return yuan_to_fen(self.yuan)


class Standard(Strict):
    categories: list[InsuredCategory] = Field(min_length=1)
    yuan: str | int
    source: Source

    _v = field_validator("yuan", mode="before")(_check_yuan)

    @property
    def fen(self) -> int:
        return yuan_to_fen(self.yuan)


class DeclaredLimit(Strict):
    """Who can truly be declared in a category: an age a person must have on some day of the
    plan year (completed years, 周岁). A declaration outside it is refused, never priced."""

    category: InsuredCategory
    age_min: int | None = Field(None, ge=0, le=150)
    age_max: int | None = Field(None, ge=0, le=150)
    source: Source
    assumptions: list[Identifier] = []

    @model_validator(mode="after")
    def _ordered(self) -> DeclaredLimit:
        if self.age_min is None and self.age_max is None:
            raise ValueError("a declared limit needs age_min, age_max or both")
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError(f"age_min {self.age_min} is above age_max {self.age_max}")
        return self


class CategoryRule(Strict):
    """How the insured category is decided; declared categories come from school lists.

    `declared_limits` gives, for each of adult, minor and student, the plan's own definition of
    who can be declared in it; declarations that cannot be true are refused."""

    minor_born_on_or_after: dt.date | None = None
    minor_age_below: int | None = Field(None, ge=1, le=30)
    declared_accepted: list[InsuredCategory] = []
    declared_limits: list[DeclaredLimit] = Field(min_length=3, max_length=3)
    source: Source
    assumptions: list[Identifier] = []

    @model_validator(mode="after")
    def _one_minor_rule(self) -> CategoryRule:
        if (self.minor_born_on_or_after is None) == (self.minor_age_below is None):
            raise ValueError("give exactly one of minor_born_on_or_after or minor_age_below")
        cats = sorted(d.category for d in self.declared_limits)
        if cats != ["adult", "minor", "student"]:
            raise ValueError("declared_limits must give adult, minor and student once each")
        return self

    def limit(self, category: str) -> DeclaredLimit:
        return next(d for d in self.declared_limits if d.category == category)


class AgeRange(Strict):
    min: int | None = Field(None, ge=0, le=150)
    max: int | None = Field(None, ge=0, le=150)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.min is None and self.max is None:
            raise ValueError("an age condition needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"age min {self.min} is above max {self.max}")
        return self


class GroupDates(Strict):
    """Date conditions on the matching membership (Yutai family planning: 2016-01-22)."""

    certified_before: dt.date | None = None
    no_later_birth_on_or_after: dt.date | None = None
    source: Source
    assumptions: list[Identifier] = Field(
        [], description="listed whenever the date condition decided whether the rule applies"
    )


class Conditions(Strict):
    groups_any: list[GroupCode] = []
    exclude_groups: list[GroupCode] = []
    age: AgeRange | None = None
    group_dates: GroupDates | None = None
    also_qualifies_for: list[Identifier] = Field(
        [], description="combination rule: applies only if one of these rules also matches"
    )
    paid_within_collection_period: bool = False

    @model_validator(mode="after")
    def _something(self) -> Conditions:
        if not self.groups_any and self.age is None:
            raise ValueError("a rule needs groups_any, an age range, or both")
        if self.group_dates is not None and not self.groups_any:
            raise ValueError("group_dates needs groups_any")
        return self


class Share(Strict):
    kind: Literal["full", "percent", "fixed", "remainder"]
    funding_source: BudgetLine
    percent: str | int | None = None
    yuan: str | int | None = None
    source: Source
    assumptions: list[Identifier] = []

    @field_validator("yuan", mode="before")
    @classmethod
    def _yuan(cls, value: object) -> object:
        return None if value is None else _check_yuan(value)

    @field_validator("percent", mode="before")
    @classmethod
    def _percent(cls, value: object) -> object:
        if value is None:
            return None
        if isinstance(value, (bool, float)) or not isinstance(value, (str, int)):
            raise ValueError("percent must be a string or an integer, never a float")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not (0 < number <= 100) or number != number.quantize(Decimal("0.01")):
            raise ValueError("percent must be above 0, at most 100, with at most 2 decimals")
        return value

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Share:
        if self.kind == "percent" and self.percent is None:
            raise ValueError("a percent share needs 'percent'")
        if self.kind == "fixed" and self.yuan is None:
            raise ValueError("a fixed share needs 'yuan'")
        if self.kind != "percent" and self.percent is not None:
            raise ValueError(f"'percent' is only for percent shares, not {self.kind}")
        if self.kind != "fixed" and self.yuan is not None:
            raise ValueError(f"'yuan' is only for fixed shares, not {self.kind}")
        return self

    @property
    def basis_points(self) -> int:
        assert self.percent is not None
        return int(Decimal(str(self.percent)) * 100)

    @property
    def fen(self) -> int:
        assert self.yuan is not None
        return yuan_to_fen(self.yuan)


class TieBreak(Strict):
    """Why this rule wins against a later-priority rule of equal value that another budget line
    would pay: the plan's own sentence, or a declared assumption (listed when the tie decided)."""

    source: Source
    assumptions: list[Identifier] = []


class SubsidyRule(Strict):
    id: Identifier
    label: str
    priority: int = Field(description="breaks ties between equally generous rules: lower wins")
    when: Conditions
    shares: list[Share] = Field(min_length=1)
    fallback_only: bool = Field(False, description="applies only if no other rule matches")
    tie_break: TieBreak | None = Field(
        None,
        description="required when the rule can tie with a later-priority rule of equal value "
        "that a different budget line pays",
    )
    source: Source
    assumptions: list[Identifier] = []

    @model_validator(mode="after")
    def _shares(self) -> SubsidyRule:
        kinds = [s.kind for s in self.shares]
        if "full" in kinds and len(kinds) > 1:
            raise ValueError("a 'full' share stands alone; use percent shares to split")
        if "remainder" in kinds[:-1]:
            raise ValueError("a 'remainder' share must be the last share")
        total_bp = sum(s.basis_points for s in self.shares if s.kind == "percent")
        if total_bp > 10000:
            raise ValueError("percent shares add up to more than 100")
        return self


class DatedEntry(Strict):
    date: dt.date
    source: Source


class Period(Strict):
    start: dt.date
    end: dt.date
    source: Source

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.start > self.end:
            raise ValueError(f"period starts {self.start} after it ends {self.end}")
        return self


class Deadline(Strict):
    name: str
    date: dt.date
    applies_to: str
    source: Source


class GroupListDeadline(Strict):
    """Memberships certified after this date do not count for the plan year."""

    date: dt.date
    groups: list[GroupCode] = Field(min_length=1)
    source: Source


class Publicity(Strict):
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    min_days: int | None = Field(None, ge=1)
    source: Source


class Periods(Strict):
    collection: Period
    payable_until: DatedEntry | None = Field(
        None, description="payments up to this date still count as in period (publicity week)"
    )
    subsidized_extension_until: DatedEntry | None = None
    registration_deadlines: list[Deadline] = []
    group_list_deadline: GroupListDeadline | None = None
    publicity: Publicity | None = None
    coverage: Period


class Waiting(Strict):
    unit: Literal["days", "months"]
    count_from: Literal["payment_date", "payment_month"]
    fixed: int = Field(ge=0)
    per_further_broken_year: int = Field(0, ge=0)
    reduced_per_paid_back_year: int = Field(0, ge=0)
    max_total: int | None = Field(None, ge=0)


class LatePayment(Strict):
    surcharge: Literal["none", "fiscal_subsidy"]
    subsidies_forfeited: bool = False
    waiting: Waiting
    source: Source
    assumptions: list[Identifier] = []


class Newborn(Strict):
    register_within_days: int = Field(ge=1)
    pays_nothing: Literal[True] = Field(description="only the Shuozhou form is supported so far")
    covered_from_birth: Literal[True]
    source: Source
    assumptions: list[Identifier] = []


class MembershipInYear(Strict):
    """What a group membership that starts or ends during the plan year counts for."""

    counts_if_held: Literal["any_day_of_plan_year"]
    source: Source
    assumptions: list[Identifier] = Field(
        min_length=1, description="listed whenever a counted membership starts or ends in the year"
    )


class EnrollmentScope(Strict):
    """Who may enroll under the plan (参保范围): local 户籍, residence-permit holders and their
    children, students of the region's schools."""

    hukou_regions: list[Annotated[str, Field(pattern=r"^\d{6}$")]] = Field(
        min_length=1,
        description="region codes whose 户籍 counts as local (a code ending in 00 or 0000 "
        "covers its whole city or province)",
    )
    residence_permit: bool
    residence_permit_children: bool
    local_students: bool
    source: Source
    assumptions: list[Identifier] = []


class Target(Strict):
    population: str
    percent: str | int
    source: Source


class EnrollmentTask(Strict):
    unit: str
    persons: int = Field(ge=0)


class TaxReconciliation(Strict):
    """How often the tax bureau and the medical insurance agency reconcile their accounts."""

    min_per_month: int = Field(ge=1, le=31)
    source: Source
    assumptions: list[Identifier] = []


# Where a plan is silent on how often tax and medical insurance reconcile.
DEFAULT_TAX_RECONCILIATION_PER_MONTH = 1
DEFAULT_TAX_RECONCILIATION_ASSUMPTION = (
    "方案未规定医保与税务的对账频次：按每月至少对账一次掌握（假设，非方案原文）")


class PolicyFile(Strict):
    schema_version: Literal[1]
    region_code: Annotated[str, Field(pattern=r"^\d{6}$")]
    region_name: str
    plan_year: int = Field(ge=2000, le=2100)
    source: SourceDocument
    age_basis: AgeBasis
    age_basis_source: Source
    age_basis_assumptions: list[Identifier] = []
    fiscal_subsidy: Money
    standards: list[Standard] = Field(min_length=1)
    category_rule: CategoryRule
    subsidy_rules: list[SubsidyRule] = []
    membership_in_year: MembershipInYear
    scope: EnrollmentScope
    periods: Periods
    late_payment: LatePayment
    newborn: Newborn | None = None
    targets: list[Target] = []
    enrollment_tasks: list[EnrollmentTask] = []
    enrollment_tasks_total: int | None = None
    tax_reconciliation: TaxReconciliation | None = Field(
        None, description="the plan's reconciliation schedule medical insurance <-> tax; absent: "
        "DEFAULT_TAX_RECONCILIATION_PER_MONTH, answered as an assumption")
    assumptions: list[Assumption] = []
    notes: list[str] = []

    @model_validator(mode="after")
    def _cross_checks(self) -> PolicyFile:
        covered: list[str] = [c for s in self.standards for c in s.categories]
        for cat in ("adult", "minor", "student"):
            if covered.count(cat) != 1:
                raise ValueError(
                    f"standards must give insured category {cat!r} exactly once "
                    f"(found {covered.count(cat)})"
                )
        ids = [r.id for r in self.subsidy_rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"subsidy rule ids repeat: {dupes}")
        prios = [r.priority for r in self.subsidy_rules]
        if len(set(prios)) != len(prios):
            raise ValueError("subsidy rule priorities must be distinct so that ties are decided")
        by_id = {r.id: r for r in self.subsidy_rules}
        for rule in self.subsidy_rules:
            for other in rule.when.also_qualifies_for:
                if other not in by_id:
                    raise ValueError(
                        f"rule {rule.id}: also_qualifies_for names unknown rule {other!r}"
                    )
                if by_id[other].when.also_qualifies_for or by_id[other].fallback_only:
                    raise ValueError(
                        f"rule {rule.id}: {other!r} is itself a combination or fallback rule"
                    )
            if rule.fallback_only and rule.when.also_qualifies_for:
                raise ValueError(f"rule {rule.id}: a fallback rule cannot be a combination")
        declared = {a.id for a in self.assumptions}
        used: set[str] = set(self.age_basis_assumptions)
        used |= set(self.fiscal_subsidy.assumptions) | set(self.category_rule.assumptions)
        used |= set(self.late_payment.assumptions)
        used |= set(self.membership_in_year.assumptions) | set(self.scope.assumptions)
        for limit in self.category_rule.declared_limits:
            used |= set(limit.assumptions)
        if self.newborn is not None:
            used |= set(self.newborn.assumptions)
        if self.tax_reconciliation is not None:
            used |= set(self.tax_reconciliation.assumptions)
        for rule in self.subsidy_rules:
            used |= set(rule.assumptions)
            for share in rule.shares:
                used |= set(share.assumptions)
            if rule.tie_break is not None:
                used |= set(rule.tie_break.assumptions)
            if rule.when.group_dates is not None:
                used |= set(rule.when.group_dates.assumptions)
        if used - declared:
            raise ValueError(f"assumptions referenced but not declared: {sorted(used - declared)}")
        if declared - used:
            raise ValueError(
                f"assumptions declared but never referenced: {sorted(declared - used)}"
            )
        self._check_ties()
        if self.periods.coverage.start.year != self.plan_year:
            raise ValueError("periods.coverage must start in the plan year")
        if self.enrollment_tasks and self.enrollment_tasks_total is not None:
            total = sum(t.persons for t in self.enrollment_tasks)
            if total != self.enrollment_tasks_total:
                raise ValueError(
                    f"enrollment tasks add up to {total}, not {self.enrollment_tasks_total}"
                )
        return self

    def _check_ties(self) -> None:
        """Every pair of rules that can both match one person, pay the same for some category
        and are paid by different budget lines: the earlier-priority rule says why it wins."""
        from .rules import could_overlap, same_lines, share_amounts  # noqa: PLC0415 (cycle)

        standards = sorted({s.fen for s in self.standards})
        rules = [r for r in self.subsidy_rules if not r.fallback_only]
        for a in rules:
            for b in rules:
                if a.priority >= b.priority or not could_overlap(a, b):
                    continue
                for fen in standards:
                    la, lb = share_amounts(a, fen), share_amounts(b, fen)
                    if sum(x for _, x in la) != sum(x for _, x in lb):
                        continue
                    if same_lines(la, lb):
                        continue
                    if a.tie_break is None:
                        raise ValueError(
                            f"rules {a.id} and {b.id} can tie at the same amount paid by "
                            f"different budget lines; give {a.id} a tie_break (the plan's "
                            "sentence, or a declared assumption)"
                        )

