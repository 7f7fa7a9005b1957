"""When coverage starts: payment timing against the plan's periods, and waiting periods."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from shared.i18n import Text

from .policy import Policy


@dataclass(frozen=True)
class PaymentTiming:
    in_period: bool  # not paid, or paid no later than the collection period / publicity week
    in_extension: bool  # after that, but within the extension for subsidized people


def payment_timing(policy: Policy, paid_on: dt.date | None) -> PaymentTiming:
    in_period = paid_on is None or paid_on <= policy.in_period_until
    ext = policy.subsidized_until
    in_extension = not in_period and ext is not None and paid_on is not None and paid_on <= ext
    return PaymentTiming(in_period, in_extension)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def waiting_length(policy: Policy, broken_years: int, paid_back_years: int) -> tuple[int, int]:
    """(waiting period in the plan's unit, the part of it due to broken enrollment)."""
    w = policy.late_payment.waiting
    extra = w.per_further_broken_year * max(0, broken_years - 1)
    extra = max(0, extra - w.reduced_per_paid_back_year * paid_back_years)
    total = w.fixed + extra
    if w.max_total is not None:
        total = min(total, w.max_total)
    return total, extra


def last_payable_day(policy: Policy, on_time_until: dt.date) -> dt.date:
    """The last payment date that still buys coverage within the plan year: on time, or late
    with the shortest waiting period (no broken years) ending no later than the plan's last
    day. A longer waiting period (broken enrollment) can close the year earlier for a person.
    A plan has a handful of deadlines: the answer is kept per plan (`Policy.memo`), as bills and
    redeterminations ask it for every person."""
    key = ("last_payable_day", on_time_until)
    found: dt.date | None = policy.memo.get(key)
    if found is None:
        found = policy.memo[key] = _last_payable_day(policy, on_time_until)
    return found


def _last_payable_day(policy: Policy, on_time_until: dt.date) -> dt.date:
    lo = on_time_until + dt.timedelta(days=1)
    hi = policy.plan_end
    if lo > hi or late_coverage_start(policy, lo, 0, 0)[0] > policy.plan_end:
        return on_time_until
    # late_coverage_start only grows with the payment date: binary search the last good day
    while lo < hi:
        mid = lo + dt.timedelta(days=(hi - lo).days // 2 + (hi - lo).days % 2)
        if late_coverage_start(policy, mid, 0, 0)[0] <= policy.plan_end:
            lo = mid
        else:
            hi = mid - dt.timedelta(days=1)
    return lo


def late_coverage_start(
    policy: Policy, paid_on: dt.date, broken_years: int, paid_back_years: int
) -> tuple[dt.date, Text]:
    """(coverage start, explanation) for a payment after the collection period."""
    w = policy.late_payment.waiting
    total, extra = waiting_length(policy, broken_years, paid_back_years)
    start = paid_on if w.count_from == "payment_date" else paid_on.replace(day=1)
    begins = start + dt.timedelta(days=total) if w.unit == "days" else add_months(start, total)
    unit_zh = "日" if w.unit == "days" else "个月"
    from_zh = "自缴费之日起" if w.count_from == "payment_date" else "自缴费当月起"
    zh = f"待遇等待期 {total} {unit_zh}，{from_zh}计算"
    en = f"waiting period {total} {w.unit} counted from the {w.count_from.replace('_', ' ')}"
    if extra:
        zh += (f"（固定 {w.fixed} {unit_zh}，另因 {broken_years} 年中断参保加 {extra} {unit_zh}，"
               f"已补缴 {paid_back_years} 年）")
        en += (
            f" ({w.fixed} fixed + {extra} for {broken_years} years of broken enrollment, "
            f"{paid_back_years} paid back)"
        )
    if begins < policy.plan_start:
        begins = policy.plan_start
        zh += "；不早于参保年度开始"
        en += "; not before the plan year starts"
    return begins, Text(zh, en)
