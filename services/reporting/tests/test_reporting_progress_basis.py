"""#14: progress ranks units on one basis (paid against the target); a township without a
target is listed apart, unranked; an `as_of` in the future or before the campaign is refused
with a Chinese message rather than answered with figures that look like data."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.progress import service as progress
from services.reporting.regions import Region
from services.reporting.tests import factories as f
from services.reporting.tests.test_reporting_projections import YEAR, apply, scenario
from shared.errors import Invalid


async def test_a_township_without_a_target_is_listed_apart(
        rolled_back_session: AsyncSession) -> None:
    session = rolled_back_session
    county = f.new_county()
    events, _ = scenario(county)
    village = f"{county}009001"  # township 009 has no target
    extra = [f.new_id() for _ in range(2)]
    for pid in extra:
        events += [f.person(pid, village=village), f.enrollment(pid, YEAR, village=village)]
    events.append(f.payment(extra[0], YEAR, village=village, paid_at="2024-11-20"))
    await apply(session, events)
    data = await progress.progress(session, region=Region.of(county), plan_year=YEAR,
                                   as_of=dt.date(2024, 12, 3))
    rows = data["rows"]
    untargeted = [r for r in rows if r["code"] == f"{county}009000"]
    assert len(untargeted) == 1 and untargeted[0]["target"] is None
    # paid 1 of 2 registered (50 %) would have ranked first against the others' 25 % and 20 %
    assert untargeted[0]["rate"] == 50.0 and untargeted[0]["rank"] is None
    assert rows[-1] is untargeted[0] and data["unranked"] == 1
    assert [r["rank"] for r in rows[:-1]] == [1, 2]
    assert all(r["rate_basis"] == "target" for r in rows[:-1])


def test_as_of_in_the_future_or_before_the_campaign_is_refused() -> None:
    today = dt.date(2025, 1, 10)
    with pytest.raises(Invalid) as future:
        progress.check_as_of(dt.date(2025, 1, 11), today, dt.date(2024, 9, 1), 2025)
    assert future.value.key == "as_of_in_future" and future.value.details["field"] == "as_of"
    assert future.value.text("zh-CN").startswith("as_of：2025-01-11 晚于今天（2025-01-10")
    with pytest.raises(Invalid) as early:
        progress.check_as_of(dt.date(2024, 8, 31), today, dt.date(2024, 9, 1), 2025)
    assert "早于 2025 年度集中征缴开始日（2024-09-01）" in early.value.text("zh-CN")
    assert "before the 2025 collection opened" in early.value.text("en")
    progress.check_as_of(today, today, dt.date(2024, 9, 1), 2025)  # today is fine
    progress.check_as_of(dt.date(2024, 9, 1), today, None, 2025)  # no plan: no campaign start


def test_the_daily_chart_has_a_real_time_axis() -> None:
    """Two payment days two years apart sit at the two ends of the axis, not side by side."""
    from services.reporting.dashboard.router import daily_chart

    daily = [{"day": "2023-11-01", "paid": 4, "cumulative": 4},
             {"day": "2023-11-02", "paid": 2, "cumulative": 6},
             {"day": "2025-11-01", "paid": 1, "cumulative": 7}]
    chart = daily_chart(daily, end=dt.date(2025, 11, 1))
    xs = [b["x"] for b in chart["bars"]]
    assert xs[1] - xs[0] < 2  # the next day: one small step
    assert xs[2] - xs[1] > 0.9 * chart["inner_w"]  # two years: nearly the whole width
    assert [t["text"] for t in chart["left"]] == [0, 2, 4]
    assert chart["labels"][0]["text"] == "2023-11-01" and chart["labels"][-1]["text"] == \
        "2025-11-01"


async def test_progress_as_of_an_earlier_day_counts_what_had_happened_by_then(
        rolled_back_session: AsyncSession) -> None:
    """#14: `as_of` changes the figures, not only the heading. Today's answer (the live
    counters) equals the as-of computation for today; a day before a payment leaves it out."""
    from services.reporting.progress import repository as repo

    session = rolled_back_session
    county = f.new_county()
    events, _ = scenario(county)
    village = f"{county}009001"
    pid = f.new_id()
    events += [f.person(pid, village=village), f.enrollment(pid, YEAR, village=village),
               f.payment(pid, YEAR, village=village, paid_at="2024-11-20T10:00:00+08:00")]
    await apply(session, events)
    region = Region.of(county)
    today = progress.today_in_china()
    live = await repo.counters(session, region, YEAR, "township")
    computed = await repo.counters_as_of(session, region, YEAR, "township", today)
    def key(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
        """Rows with a count, comparable (a counter that went up and back to 0 is no row)."""
        out = [(r["code"], r["band"], *(r[k] for k in sorted(r) if k not in ("code", "band")))
               for r in rows]
        return sorted(t for t in out if any(t[2:]))

    assert key(live) == key(computed) and key(live)

    def township(data: dict[str, object]) -> dict[str, object]:
        return next(r for r in data["rows"] if r["code"] == f"{county}009000")  # type: ignore[index, union-attr]

    after = await progress.progress(session, region=region, plan_year=YEAR,
                                    as_of=dt.date(2024, 11, 20))
    before = await progress.progress(session, region=region, plan_year=YEAR,
                                     as_of=dt.date(2024, 11, 19))
    assert township(after)["paid"] == 1 and township(before)["paid"] == 0
    assert township(after)["paid_person_fen"] - township(before)["paid_person_fen"] == 40000
    assert all(d["day"] <= "2024-11-19" for d in before["daily"])
    assert before["totals"]["paid"] < after["totals"]["paid"]


def test_percent_rounds_halves_up_to_two_decimals() -> None:
    """Rates are exact to the hundredth: halves round up, nothing drifts through floats."""
    assert progress.percent(1, 8) == 12.5
    assert progress.percent(1, 1600) == 0.06  # 0.0625 -> 0.06
    assert progress.percent(1, 800) == 0.13  # 0.125 -> 0.13
    assert progress.percent(2, 3) == 66.67 and progress.percent(1, 3) == 33.33
    assert progress.percent(7, 7) == 100.0 and progress.percent(0, 9) == 0.0
    assert progress.percent(5, 0) is None and progress.percent(5, None) is None
