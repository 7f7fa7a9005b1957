"""Bounds on enrollment years and dates: nonsense is refused with 422 naming the field.

A plan year is accepted when eligibility has published a plan for it (registration's copy of
the `eligibility.plan.v1` events, `registration.plans`) or when it lies near today (from last
year to three years ahead: plans are issued in the autumn before their year, and drafts
earlier). A registration day may not lie after today (Beijing date) nor before 1 January of
the year before the plan year (collection periods open in the autumn before it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from zoneinfo import ZoneInfo

from shared.errors import Invalid

BEIJING = ZoneInfo("Asia/Shanghai")
YEARS_BEHIND, YEARS_AHEAD = 1, 3


def beijing_today() -> dt.date:
    return dt.datetime.now(BEIJING).date()


def check_plan_year(plan_year: int, *, known: Collection[int] = (),
                    today: dt.date | None = None, field: str = "plan_year") -> None:
    """`known`: the plan years eligibility has published a plan for."""
    today = today or beijing_today()
    if plan_year in known:
        return
    if today.year - YEARS_BEHIND <= plan_year <= today.year + YEARS_AHEAD:
        return
    raise Invalid(f"{field}：{plan_year} 年度没有实施方案，且不在 {today.year - YEARS_BEHIND}—"
                  f"{today.year + YEARS_AHEAD} 年之间（no plan for this year）", field=field,
                  code="unknown_plan_year",
                  params={"plan_year": plan_year, "first": today.year - YEARS_BEHIND,
                          "last": today.year + YEARS_AHEAD})


def check_registered_on(registered_on: dt.date | None, plan_year: int, *,
                        today: dt.date | None = None, field: str = "registered_on") -> None:
    if registered_on is None:
        return
    today = today or beijing_today()
    if registered_on > today:
        raise Invalid(f"{field}：登记日期 {registered_on.isoformat()} 晚于今天 "
                      f"{today.isoformat()}（a registration cannot be in the future）",
                      field=field, code="date_in_future",
                      params={"date": registered_on.isoformat(), "today": today.isoformat()})
    earliest = dt.date(plan_year - 1, 1, 1)  # collection starts in the autumn before
    if registered_on < earliest:
        raise Invalid(f"{field}：登记日期 {registered_on.isoformat()} 早于 {earliest.isoformat()}，"
                      f"不可能是 {plan_year} 年度的参保登记", field=field,
                      code="date_out_of_range",
                      params={"date": registered_on.isoformat(),
                              "earliest": earliest.isoformat(), "plan_year": plan_year})


def check_birth_before_year_end(birth_date: dt.date, plan_year: int,
                                field: str = "id_number") -> None:
    """Nobody born after the plan year is enrolled for it."""
    if birth_date > dt.date(plan_year, 12, 31):
        raise Invalid(f"{field}：出生日期 {birth_date.isoformat()} 晚于 {plan_year} 年度"
                      "（born after the plan year）", field=field, code="born_after_plan_year",
                      params={"date": birth_date.isoformat(), "plan_year": plan_year})
