"""The derived state of one person in one plan year, and what it adds to each counter.

Pure code. A handler stores the newest revision of each source aggregate, derives the
person-year from them with `derive`, and applies `contributions(new) - contributions(old)`
to the counters. Counters therefore always equal the sum over current person-years, whatever
order the events came in and however often they were replayed.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")

# Bands the plans set payment-rate targets for (Pingyin: subsidized and newborns 100 %,
# minors, 60 and over, adults under 60: 98 %). Students are kept apart.
BANDS = ("subsidized", "newborn", "minor", "student", "age60plus", "adult", "unknown")
BAND_NAMES_ZH = {
    "subsidized": "政府资助人员",
    "newborn": "新生儿(0-1岁)",
    "minor": "少年儿童",
    "student": "大学生",
    "age60plus": "60周岁以上",
    "adult": "60周岁以下成年居民",
    "unknown": "未分类",
}


@dataclass(frozen=True)
class PersonFacts:
    birth_date: dt.date | None = None
    county_code: str = ""
    township_code: str = ""
    village_code: str = ""


@dataclass(frozen=True)
class EnrollmentFacts:
    status: str
    insured_category: str
    county_code: str
    township_code: str
    village_code: str


@dataclass(frozen=True)
class DeterminationFacts:
    enrolled: bool
    insured_category: str
    county_code: str
    township_code: str
    village_code: str
    subsidies: tuple[tuple[str, str, int], ...]  # (budget_line, rule_id, amount_fen)


@dataclass(frozen=True)
class PaymentFacts:
    kind: str
    payer: str
    amount_fen: int
    paid_at: dt.datetime
    county_code: str
    township_code: str
    village_code: str


@dataclass(frozen=True)
class PersonYear:
    county_code: str
    township_code: str
    village_code: str
    band: str
    enrollment_status: str | None
    registered: bool
    enrolled: bool
    subsidized: bool
    paid_by: str | None
    paid_fen: int
    paid_on: dt.date | None
    subsidies: tuple[tuple[str, str, int], ...] = field(default_factory=tuple)


def band_of(
    plan_year: int, birth_date: dt.date | None, category: str | None, subsidized: bool
) -> str:
    """Age is the age reached in the plan year (the basis the seeded policies declare)."""
    if subsidized:
        return "subsidized"
    if category == "student":
        return "student"
    if birth_date is not None:
        age = plan_year - birth_date.year
        if age <= 1:
            return "newborn"
        if age < 18 or category == "minor":
            return "minor"
        return "age60plus" if age >= 60 else "adult"
    if category == "minor":
        return "minor"
    return "adult" if category == "adult" else "unknown"


def derive(
    plan_year: int,
    person: PersonFacts | None,
    enrollment: EnrollmentFacts | None,
    determination: DeterminationFacts | None,
    payments: list[PaymentFacts],
) -> PersonYear | None:
    """None when nothing is known about this person in this year yet."""
    active = [p for p in payments if p.kind == "paid"]
    if enrollment is None and determination is None and not payments:
        return None
    where: Any = enrollment or determination or (payments[0] if payments else None) or person
    subsidies = determination.subsidies if determination and determination.enrolled else ()
    subsidized = any(amount > 0 for _, _, amount in subsidies)
    category = (enrollment.insured_category if enrollment else None) or (
        determination.insured_category if determination else None
    )
    paid_by: str | None = None
    paid_on: dt.date | None = None
    if active:
        first = min(active, key=lambda p: p.paid_at)
        latest = max(active, key=lambda p: p.paid_at)
        paid_by = latest.payer
        paid_on = first.paid_at.astimezone(CHINA).date()
    return PersonYear(
        county_code=where.county_code,
        township_code=where.township_code,
        village_code=where.village_code or "",
        band=band_of(plan_year, person.birth_date if person else None, category, subsidized),
        enrollment_status=enrollment.status if enrollment else None,
        registered=enrollment is not None and enrollment.status == "registered",
        enrolled=determination.enrolled if determination else enrollment is not None
        and enrollment.status == "registered",
        subsidized=subsidized,
        paid_by=paid_by,
        paid_fen=sum(p.amount_fen for p in active),
        paid_on=paid_on,
        subsidies=subsidies,
    )


@dataclass
class Contributions:
    """What one person-year adds to each counter table, keyed by the counter's primary key."""

    progress: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    daily: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    funding: Counter[tuple[Any, ...]] = field(default_factory=Counter)

    def minus(self, other: Contributions) -> Contributions:
        def diff(a: Counter[tuple[Any, ...]], b: Counter[tuple[Any, ...]]) -> Counter:
            out: Counter[tuple[Any, ...]] = Counter()
            for k in set(a) | set(b):
                if a.get(k, 0) != b.get(k, 0):
                    out[k] = a.get(k, 0) - b.get(k, 0)
            return out

        return Contributions(
            diff(self.progress, other.progress),
            diff(self.daily, other.daily),
            diff(self.funding, other.funding),
        )

    def __bool__(self) -> bool:
        return bool(self.progress or self.daily or self.funding)


PROGRESS_COLUMNS = ("registered", "paid_person", "paid_government", "paid_person_fen",
                    "paid_government_fen")
FUNDING_COLUMNS = ("headcount", "amount_fen", "paid_headcount")


def contributions(plan_year: int, py: PersonYear | None) -> Contributions:
    """Counter keys are (table key..., column) so that deltas stay flat integers."""
    out = Contributions()
    if py is None:
        return out
    where = (plan_year, py.county_code, py.township_code)
    pkey = (*where, py.village_code, py.band)
    if py.registered:
        out.progress[(*pkey, "registered")] += 1
    if py.paid_by is not None:
        payer = "government" if py.paid_by == "government" else "person"
        out.progress[(*pkey, f"paid_{payer}")] += 1
        out.progress[(*pkey, f"paid_{payer}_fen")] += py.paid_fen
        assert py.paid_on is not None
        out.daily[(*where, py.paid_on, "paid")] += 1
    for budget_line, rule_id, amount in py.subsidies:
        fkey = (*where, budget_line, rule_id)
        out.funding[(*fkey, "headcount")] += 1
        out.funding[(*fkey, "amount_fen")] += amount
        if py.paid_by is not None:
            out.funding[(*fkey, "paid_headcount")] += 1
    return out
