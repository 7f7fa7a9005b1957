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


Line = tuple[str, str, int]  # (budget_line, rule_id, amount_fen): one government part


@dataclass(frozen=True)
class Outcome:
    """What is owed for one payment timing: the person's own part (surcharge included) and the
    government parts, each paid by its budget line."""

    personal_fen: int
    subsidies: tuple[Line, ...] = ()


@dataclass(frozen=True)
class DeterminationFacts:
    enrolled: bool
    insured_category: str
    county_code: str
    township_code: str
    village_code: str
    subsidies: tuple[Line, ...]
    personal_fen: int = 0  # own part if paid on time, surcharge included
    on_time_until: dt.date | None = None
    late: Outcome | None = None  # owed when paid after on_time_until (None: never different)

    @property
    def on_time(self) -> Outcome:
        return Outcome(self.personal_fen, self.subsidies)


@dataclass(frozen=True)
class PaymentFacts:
    kind: str
    payer: str
    amount_fen: int
    paid_at: dt.datetime
    county_code: str
    township_code: str
    village_code: str
    funding_source: str | None = None  # budget line of a government proxy payment
    timing: str | None = None  # on_time | late; absent in older events = on_time

    @property
    def by_government(self) -> bool:
        return self.payer == "government"


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
    paid_by: str | None  # person | government | both: whose money has arrived
    paid_fen: int
    paid_on: dt.date | None  # first payment
    # (budget_line, rule_id, amount_fen, paid_fen) of the outcome that applies
    subsidies: tuple[tuple[str, str, int, int], ...] = ()
    settled: bool = False  # the whole due is covered (own part and every government part)
    settled_on: dt.date | None = None  # the day the last part arrived (None: owed nothing)
    paid_person_fen: int = 0
    paid_person_on: dt.date | None = None
    paid_government_fen: int = 0
    paid_government_on: dt.date | None = None
    owed_person_fen: int | None = None  # own part still owed (None: no determination yet)
    owed_government_fen: int = 0  # government parts still unpaid
    owed_late_fen: int | None = None  # everything still owed if paid after on_time_until
    on_time_until: dt.date | None = None

    @property
    def owed_fen(self) -> int | None:
        if self.owed_person_fen is None:
            return None
        return self.owed_person_fen + self.owed_government_fen


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


def _day(at: dt.datetime) -> dt.date:
    return at.astimezone(CHINA).date()


def cover(outcome: Outcome, paid: list[PaymentFacts]
          ) -> tuple[int, tuple[tuple[str, str, int, int], ...]]:
    """How much of `outcome` the active payments `paid` cover: (own part still owed, each
    government line with what has been paid of it).

    The person's own money pays their own part. A government payment pays the lines of its
    budget line (`funding_source`), in the order the determination lists them; one without a
    budget line (events older than the field) pays whatever lines are still open, in order."""
    own = sum(p.amount_fen for p in paid if not p.by_government)
    by_line: Counter[str] = Counter()
    pooled = 0
    for p in paid:
        if p.by_government:
            if p.funding_source:
                by_line[p.funding_source] += p.amount_fen
            else:
                pooled += p.amount_fen
    lines = []
    for budget_line, rule_id, amount in outcome.subsidies:
        take = min(amount, max(by_line[budget_line], 0))
        by_line[budget_line] -= take
        lines.append([budget_line, rule_id, amount, take])
    for line in lines:
        take = min(line[2] - line[3], max(pooled, 0))
        pooled -= take
        line[3] += take
    return max(outcome.personal_fen - own, 0), tuple(tuple(x) for x in lines)  # type: ignore[misc]


def derive(
    plan_year: int,
    person: PersonFacts | None,
    enrollment: EnrollmentFacts | None,
    determination: DeterminationFacts | None,
    payments: list[PaymentFacts],
) -> PersonYear | None:
    """None when nothing is known about this person in this year yet.

    The outcome that applies is the late one once a payment settled it late (`timing`), else
    the on-time one. The person-year is settled when the person is enrolled and the outcome's
    own part and every government line are covered; someone who owes nothing either way (a
    newborn registered in time) is settled without any payment. Without a determination the
    due is unknown and any payment counts as settled (as before the determination arrives)."""
    active = [p for p in payments if p.kind == "paid"]
    if enrollment is None and determination is None and not payments:
        return None
    where: Any = enrollment or determination or (payments[0] if payments else None) or person
    det_lines = determination.subsidies if determination and determination.enrolled else ()
    subsidized = any(amount > 0 for _, _, amount in det_lines)
    category = (enrollment.insured_category if enrollment else None) or (
        determination.insured_category if determination else None
    )
    own = [p for p in active if not p.by_government]
    gov = [p for p in active if p.by_government]
    paid_by = ("both" if own and gov else "person" if own else "government" if gov else None)
    registered = enrollment is not None and enrollment.status == "registered"
    enrolled = determination.enrolled if determination else registered
    due_now = enrolled and (enrollment is None or enrollment.status == "registered")

    lines: tuple[tuple[str, str, int, int], ...] = ()
    owed_person: int | None = None
    owed_government = 0
    owed_late: int | None = None
    if determination is None:
        settled = due_now and bool(active)
    elif not determination.enrolled:
        settled, owed_person = False, 0
    else:
        late_paid = any(p.timing == "late" for p in active)
        outcome = determination.late if late_paid and determination.late else (
            determination.on_time)
        owed_person, lines = cover(outcome, active)
        owed_government = sum(amount - paid for _, _, amount, paid in lines)
        settled = due_now and owed_person == 0 and owed_government == 0
        if determination.late is not None and outcome is not determination.late:
            late_own, late_lines = cover(determination.late, active)
            owed_late = late_own + sum(a - p for _, _, a, p in late_lines)
    return PersonYear(
        county_code=where.county_code,
        township_code=where.township_code,
        village_code=where.village_code or "",
        band=band_of(plan_year, person.birth_date if person else None, category, subsidized),
        enrollment_status=enrollment.status if enrollment else None,
        registered=registered,
        enrolled=enrolled,
        subsidized=subsidized,
        paid_by=paid_by,
        paid_fen=sum(p.amount_fen for p in active),
        paid_on=_day(min(p.paid_at for p in active)) if active else None,
        subsidies=lines,
        settled=settled,
        settled_on=_day(max(p.paid_at for p in active)) if settled and active else None,
        paid_person_fen=sum(p.amount_fen for p in own),
        paid_person_on=_day(max(p.paid_at for p in own)) if own else None,
        paid_government_fen=sum(p.amount_fen for p in gov),
        paid_government_on=_day(max(p.paid_at for p in gov)) if gov else None,
        owed_person_fen=owed_person,
        owed_government_fen=owed_government,
        owed_late_fen=owed_late,
        on_time_until=determination.on_time_until if determination else None,
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


PROGRESS_COLUMNS = ("registered", "settled", "paid_person", "paid_government",
                    "paid_person_fen", "paid_government_fen")
FUNDING_COLUMNS = ("headcount", "amount_fen", "paid_headcount")


def contributions(plan_year: int, py: PersonYear | None) -> Contributions:
    """Counter keys are (table key..., column) so that deltas stay flat integers.

    `settled` counts the person once their whole due is covered (缴费人数); `paid_person` and
    `paid_government` count them once for each payer whose money has arrived, with that
    payer's fen; a subsidy line counts as paid when its budget line has paid all of it."""
    out = Contributions()
    if py is None:
        return out
    where = (plan_year, py.county_code, py.township_code)
    pkey = (*where, py.village_code, py.band)
    if py.registered:
        out.progress[(*pkey, "registered")] += 1
    if py.settled:
        out.progress[(*pkey, "settled")] += 1
        if py.settled_on is not None:
            out.daily[(*where, py.settled_on, "paid")] += 1
    for payer, fen, on in (("person", py.paid_person_fen, py.paid_person_on),
                           ("government", py.paid_government_fen, py.paid_government_on)):
        if on is not None:
            out.progress[(*pkey, f"paid_{payer}")] += 1
            out.progress[(*pkey, f"paid_{payer}_fen")] += fen
    for budget_line, rule_id, amount, paid in py.subsidies:
        fkey = (*where, budget_line, rule_id)
        out.funding[(*fkey, "headcount")] += 1
        out.funding[(*fkey, "amount_fen")] += amount
        if paid >= amount:
            out.funding[(*fkey, "paid_headcount")] += 1
    return out
