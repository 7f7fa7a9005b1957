"""The events eligibility publishes: every new current determination of a person-year, and the
refund a change owes a person who already paid (eligibility.determination.v1, key: person_id)."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field

from contracts.base import EventModel, Fen, Part, RegionCode, Timestamp
from kernels.codes import BudgetLine, InsuredCategory
from shared import topics


class Subsidy(Part):
    """One government part of what the person's contribution costs: the plan's rule that gave
    it, the budget line that pays it and the amount."""

    rule_id: str
    funding_source: BudgetLine
    amount_fen: Fen


class LateOutcome(Part):
    """What is owed when the money is paid after `on_time_until`: `determine()` for a payment
    the day after it (rules only for payments within the collection period do not apply,
    subsidies are forfeited and the surcharge added where the plan says so). `personal_fen`
    includes `surcharge_fen`. Coverage then starts after the plan's waiting period, counted
    from the payment."""

    personal_fen: Fen
    surcharge_fen: Fen
    subsidies: list[Subsidy]
    insured_category: InsuredCategory | None


class DeterminationChanged(EventModel):
    """A new current determination (every one, whatever caused it).

    `revision` is the determination's id: it only grows per person and year. `enrolled` is
    false when the enrollment was stopped or ended (nothing is due any more).

    What is owed depends on the day the money is paid; the determination carries both outcomes
    and the days that separate them, and one function (`owed_on(terms, policy, paid_on,
    history)` in `kernels/policy/owed.py`) picks between them for a payment date, for the
    preview, the bill, matching and proxy batches alike. `on_time_until`: the last day a payment
    gets the amounts above and `coverage_start` (collection period, publicity week, or for a
    subsidized person the plan's extension). `payable_until`: the last day a late payment still
    buys coverage in the plan year (shortest waiting period); after it, or when a longer
    waiting period (broken years) would end after the plan year, no payment is taken for the
    year. `late` is null when the person owes nothing either way (a newborn registered in
    time); all three are null when the enrollment was stopped or ended. `personal_fen` includes
    `surcharge_fen`. `coverage_start` never lies before the person's birth."""

    TOPIC = topics.ELIGIBILITY_DETERMINATION
    TYPE = "eligibility.determination_changed.v1"
    KEY = "person_id"
    EXAMPLE = {
        "person_id": "0190e0f2-8f0e-7c3a-9d1e-2b3c4d5e6f70", "plan_year": 2025,
        "revision": 17, "enrolled": True, "region_code": "370481", "county_code": "370481",
        "township_code": "370481001000", "village_code": None, "policy_version": "9b1e…",
        "insured_category": "adult", "standard_fen": 40000, "personal_fen": 20000,
        "surcharge_fen": 0, "subsidies": [{"rule_id": "age_60_69",
                                           "funding_source": "city_finance",
                                           "amount_fen": 20000}],
        "coverage_start": "2025-01-01", "on_time_until": "2024-12-31",
        "payable_until": "2025-09-30",
        "late": {"personal_fen": 83000, "surcharge_fen": 55000, "subsidies": [],
                 "insured_category": "adult"},
        "determined_at": "2024-10-08T10:00:00+00:00"}

    person_id: uuid.UUID
    plan_year: int
    revision: int = Field(ge=1, description="the determination's id")
    enrolled: bool
    region_code: RegionCode = Field(description="the region of the plan that decided")
    county_code: RegionCode
    township_code: RegionCode | None
    village_code: RegionCode | None
    policy_version: str = Field(description="sha256 hex of the plan file")
    insured_category: InsuredCategory | None
    standard_fen: Fen
    personal_fen: Fen
    surcharge_fen: Fen
    subsidies: list[Subsidy]
    coverage_start: dt.date | None
    on_time_until: dt.date | None = Field(None, description="absent in older events")
    payable_until: dt.date | None = Field(None, description="absent in older events")
    late: LateOutcome | None = Field(None, description="absent in older events")
    determined_at: Timestamp


class AdjustmentDue(DeterminationChanged):
    """A change that lands after the person paid: a refund is due. The refund is counted
    against the outcome of the person's last payment date (late when it was after
    `on_time_until`)."""

    TYPE = "eligibility.adjustment_due.v1"
    EXAMPLE = {**DeterminationChanged.EXAMPLE, "paid_fen": 40000, "refund_due_fen": 20000}

    paid_fen: Fen
    refund_due_fen: Fen = Field(gt=0)


EVENTS: tuple[type[EventModel], ...] = (DeterminationChanged, AdjustmentDue)
