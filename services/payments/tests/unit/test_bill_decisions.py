"""The decision memo of the coverage calculator (services/payments/coverage.py), as bill
lookups use it: people sharing a due share one decision per day and plan version; a decision
that rests on the person's earlier years is made for each person."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from devtools.testing.plans import seed_catalog
from services.payments.bills.service import BillService
from services.payments.coverage import CoverageCalculator, PriorYear


class CountingCalculator(CoverageCalculator):
    def __init__(self) -> None:
        super().__init__(seed_catalog())
        self.decided = 0

    def _decide(self, *args: Any, **kwargs: Any) -> Any:
        self.decided += 1
        return super()._decide(*args, **kwargs)


class Repo:
    """The two history reads of BillRepository, counted (the person paid nothing before)."""

    def __init__(self) -> None:
        self.reads = 0

    async def prior_years(self, person_id: uuid.UUID, plan_year: int) -> dict[int, PriorYear]:
        self.reads += 1
        return {}

    async def first_plan_year(self, region_code: str) -> int | None:
        return 2024


def row(**over: Any) -> dict[str, Any]:
    late = {"personal_fen": 40000, "surcharge_fen": 0, "subsidies": [],
            "insured_category": "adult"}
    return {"person_id": uuid.uuid4(), "region_code": "370481", "insured_category": "adult",
            "coverage_start": dt.date(2025, 1, 1), "standard_fen": 40000,
            "personal_fen": 40000, "surcharge_fen": 0, "subsidies": [],
            "on_time_until": dt.date(2024, 12, 31), "payable_until": dt.date(2025, 9, 30),
            "late": late, **over}


async def test_people_with_the_same_due_share_one_decision_per_day() -> None:
    calc = CountingCalculator()
    bills = BillService(None, None, calc)  # type: ignore[arg-type]
    repo = Repo()
    on_time = dt.date(2024, 12, 1)
    first = await bills._decide(repo, row(), 2025, on_time)  # type: ignore[arg-type]
    second = await bills._decide(repo, row(), 2025, on_time)  # type: ignore[arg-type]
    assert second is first and calc.decided == 1
    assert first.owed is not None and first.owed.personal_fen == 40000
    # another due, then another day: decided again
    other = await bills._decide(repo, row(personal_fen=0), 2025, on_time)  # type: ignore[arg-type]
    assert calc.decided == 2 and other.owed is not None and other.owed.personal_fen == 0
    await bills._decide(repo, row(), 2025, dt.date(2024, 12, 2))  # type: ignore[arg-type]
    assert calc.decided == 3


async def test_a_late_payment_that_depends_on_earlier_years_is_decided_per_person() -> None:
    """滕州市 2025 lengthens the waiting period per broken year: a late payment reads each
    person's history and is never shared."""
    calc = CountingCalculator()
    bills = BillService(None, None, calc)  # type: ignore[arg-type]
    repo = Repo()
    late_day = dt.date(2025, 2, 10)
    for _ in range(2):
        decision = await bills._decide(repo, row(), 2025, late_day)  # type: ignore[arg-type]
        assert decision.timing == "late"
    assert repo.reads == 2 and calc.decided == 2
