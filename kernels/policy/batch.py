"""Vectorised determinations for whole populations (numpy), identical to determine() per person.

What the vectorised path covers:
  * insured category (declared where the plan accepts it, else by birth date / age) and standard;
  * group memberships as a bitmask (bit i = GROUP_CODES[i]) or a boolean matrix, with optional
    certified_on / later_birth_on / ends_on dates, either one column for family_planning_household
    or one column per group; memberships that ended before the plan year, were certified after the
    plan year or after the plan's list deadline do not count (as in determine);
  * every subsidy rule form: groups, exclusions, age ranges (turned into birth-date cut-offs on the
    declared age basis), group date conditions, combinations (also_qualifies_for), fallback-only
    rules, full / percent / fixed / remainder shares; the winner is the most generous rule, ties by
    priority; amounts come from rules.share_amounts(), the same function determine() uses;
  * payments on time (paid_on missing or not after the collection period / publicity week);
  * with late=True, the late outcome: what determine() gives for a payment the day after each
    person's on-time window (rules for payments within the collection period do not count,
    subsidies forfeited and the surcharge where the plan says so); paid_on is then ignored.
Rows it hands to determine() one by one (same answers, just slower): payments after the collection
period (late payment, subsidized extension, waiting periods, surcharges) and possible newborns
(born in the plan year with a registration date, where the plan has a newborn rule). The figures
do not depend on the coverage start; callers that need it take the plan year's start, or the
birth date for someone born later (coverage_floor).

Dates are numpy datetime64 (any unit, NaT = unknown) or int64 days since 1970-01-01 with
INT64_MIN meaning unknown. Insured categories are int8 codes: index into INSURED_CATEGORIES,
-1 = not declared.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from kernels.codes import BUDGET_LINES, GROUP_CODES, INSURED_CATEGORIES

from .determine import GroupMembership, PersonFacts, determine
from .owed import late_payment_day
from .policy import Policy
from .rules import UNKNOWN_DECLARED, declared_categories, share_amounts
from .schema import SubsidyRule
from .trace import WON

NONE_DAY = np.iinfo(np.int64).min
_EPOCH = dt.date(1970, 1, 1)
_G = len(GROUP_CODES)
GROUP_BIT: dict[str, int] = {code: 1 << i for i, code in enumerate(GROUP_CODES)}
_FP = GROUP_CODES.index("family_planning_household")
_CHUNK = 1 << 16


def day_number(day: dt.date) -> int:
    return (day - _EPOCH).days


def from_day_number(n: int) -> dt.date | None:
    return None if n == NONE_DAY else _EPOCH + dt.timedelta(days=int(n))


def as_days(values: np.ndarray | None) -> np.ndarray | None:
    """datetime64 (NaT = unknown) or integer days -> int64 days with NONE_DAY for unknown."""
    if values is None:
        return None
    arr = np.asarray(values)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[D]").view(np.int64)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64, copy=False)
    raise TypeError(f"dates must be datetime64 or integer days, not {arr.dtype}")


def as_bitmask(groups: np.ndarray | None, n: int) -> np.ndarray:
    if groups is None:
        return np.zeros(n, dtype=np.uint32)
    arr = np.asarray(groups)
    if arr.dtype == np.bool_:
        if arr.ndim != 2 or arr.shape[1] != _G:
            raise ValueError(f"a boolean group matrix must have shape (n, {_G})")
        weights = np.uint32(1) << np.arange(_G, dtype=np.uint32)
        return np.asarray((arr.astype(np.uint32) * weights).sum(axis=1, dtype=np.uint32))
    mask = arr.astype(np.uint32, copy=False)
    if np.any(mask >> np.uint32(_G)):
        raise ValueError("group bitmask has bits beyond the known GROUP_CODES")
    return mask


@dataclass
class BatchColumns:
    birth_date: np.ndarray
    insured_category: np.ndarray | None = None
    groups: np.ndarray | None = None
    certified_on: np.ndarray | None = None
    later_birth_on: np.ndarray | None = None
    ends_on: np.ndarray | None = None
    paid_on: np.ndarray | None = None
    registered_on: np.ndarray | None = None
    broken_years: np.ndarray | None = None
    paid_back_years: np.ndarray | None = None

    def __len__(self) -> int:
        return int(np.asarray(self.birth_date).shape[0])


@dataclass
class BatchResult:
    personal_fen: np.ndarray
    standard_fen: np.ndarray
    surcharge_fen: np.ndarray
    by_budget_line: dict[str, np.ndarray]
    winning_rule: np.ndarray  # int16: index into policy.rule_ids, -1 = no subsidy
    insured_category: np.ndarray  # int8: index into INSURED_CATEGORIES
    per_person_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # bool: rows whose declared category determine() refuses (unknown, or impossible for the
    # person under the plan's category_rule.declared_limits). Their figures are those of the
    # category derived from the birth date; callers must refuse them as determine() does.
    refused: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def _age_at_least_before(basis: str, year: int, age: int) -> int:
    """Day number X such that 'age >= `age`' on the basis holds exactly when birth < X."""
    if basis == "age_reached_in_plan_year":
        return day_number(dt.date(year - age + 1, 1, 1))
    if basis == "age_on_jan_1_of_plan_year":
        return day_number(dt.date(year - age, 1, 2))
    raise ValueError(f"policy declares no usable age basis ({basis!r}); refusing to guess")


@dataclass(frozen=True)
class _CompiledRule:
    index: int
    rule: SubsidyRule
    any_mask: int
    excl_mask: int
    birth_lo: int | None  # birth >= lo
    birth_hi: int | None  # birth < hi
    cert_before: int | None
    later_from: int | None
    partners: tuple[int, ...]
    totals: np.ndarray  # per category
    lines: np.ndarray  # (category, budget line)


def _compile(policy: Policy) -> list[_CompiledRule]:
    compiled = []
    ids = policy.rule_ids
    year = policy.plan_year
    for i, rule in enumerate(policy.rules):
        w = rule.when
        lo = hi = None
        if w.age is not None:
            if w.age.min is not None:
                hi = _age_at_least_before(policy.age_basis, year, w.age.min)
            if w.age.max is not None:
                lo = _age_at_least_before(policy.age_basis, year, w.age.max + 1)
        lines = np.zeros((len(INSURED_CATEGORIES), len(BUDGET_LINES)), dtype=np.int64)
        for c, cat in enumerate(INSURED_CATEGORIES):
            for line, amount in share_amounts(rule, policy.standard_fen(cat)):
                lines[c, BUDGET_LINES.index(line)] += amount
        gd = w.group_dates
        compiled.append(
            _CompiledRule(
                index=i,
                rule=rule,
                any_mask=sum(GROUP_BIT[c] for c in set(w.groups_any)),
                excl_mask=sum(GROUP_BIT[c] for c in set(w.exclude_groups)),
                birth_lo=lo,
                birth_hi=hi,
                cert_before=day_number(gd.certified_before) if gd and gd.certified_before else None,
                later_from=day_number(gd.no_later_birth_on_or_after)
                if gd and gd.no_later_birth_on_or_after
                else None,
                partners=tuple(ids.index(p) for p in w.also_qualifies_for),
                totals=lines.sum(axis=1),
                lines=lines,
            )
        )
    return compiled


def _column(arr: np.ndarray | None, g: int, sl: slice) -> np.ndarray | None:
    """The dates of group g for the rows in sl, from a (n,) family-planning column or (n, G)."""
    if arr is None:
        return None
    if arr.ndim == 1:
        return arr[sl] if g == _FP else None
    return arr[sl, g]


def _match(
    r: _CompiledRule,
    bits: np.ndarray,
    b: np.ndarray,
    cert: np.ndarray | None,
    later: np.ndarray | None,
    sl: slice,
) -> np.ndarray:
    """Rows of the chunk that meet the rule's own conditions (not combinations or fallbacks)."""
    m: np.ndarray | None = None
    if r.any_mask:
        if r.cert_before is not None or r.later_from is not None:
            m = np.zeros(bits.shape[0], dtype=bool)
            for g in range(_G):
                if not r.any_mask & (1 << g):
                    continue
                ok = (bits & np.uint32(1 << g)) != 0
                c = _column(cert, g, sl)
                if r.cert_before is not None:
                    # an unknown certification date cannot prove 'certified before'
                    ok = ok & (c != NONE_DAY) & (c < r.cert_before) if c is not None else ok & False
                lb = _column(later, g, sl)
                if r.later_from is not None and lb is not None:
                    ok = ok & ((lb == NONE_DAY) | (lb < r.later_from))
                m |= ok
        else:
            m = (bits & np.uint32(r.any_mask)) != 0
    if r.excl_mask:
        keep = (bits & np.uint32(r.excl_mask)) == 0
        m = keep if m is None else (m & keep)
    if r.birth_lo is not None:
        ok = b >= r.birth_lo
        m = ok if m is None else (m & ok)
    if r.birth_hi is not None:
        ok = b < r.birth_hi
        m = ok if m is None else (m & ok)
    assert m is not None
    return m


def determine_batch(policy: Policy, columns: BatchColumns, *, late: bool = False) -> BatchResult:
    n = len(columns)
    birth = as_days(columns.birth_date)
    assert birth is not None
    declared = (
        np.full(n, -1, dtype=np.int8)
        if columns.insured_category is None
        else np.asarray(columns.insured_category).astype(np.int8, copy=False)
    )
    if np.any((declared < UNKNOWN_DECLARED) | (declared >= len(INSURED_CATEGORIES))):
        raise ValueError("insured_category codes must be -2 (unknown), -1 (not declared) or 0..2")
    # the category of every row, and the rows derive_category refuses (rules.py: one definition)
    cat_all, refused = declared_categories(policy, birth, declared)
    bits_all = as_bitmask(columns.groups, n)
    cert = as_days(columns.certified_on)
    later = as_days(columns.later_birth_on)
    ends = as_days(columns.ends_on)
    paid = None if late else as_days(columns.paid_on)
    registered = as_days(columns.registered_on)
    lp = policy.late_payment
    forfeit = late and lp.subsidies_forfeited

    rules = _compile(policy)
    if late:  # rules only for payments within the collection period never match a late one
        rules = [r for r in rules if not r.rule.when.paid_within_collection_period]
    primary = [r for r in rules if not r.rule.fallback_only and not r.partners]
    combos = [r for r in rules if r.partners]
    fallbacks = [r for r in rules if r.rule.fallback_only]
    order = sorted(rules, key=lambda r: r.rule.priority)
    std_table = np.array([policy.standard_fen(c) for c in INSURED_CATEGORIES], dtype=np.int64)
    uniform_std = bool(np.all(std_table == std_table[0]))
    lines_table = np.zeros((len(policy.rules) + 1, len(INSURED_CATEGORIES), len(BUDGET_LINES)),
                           np.int64)
    for r in rules:
        lines_table[r.index + 1] = r.lines
    used_lines = [k for k in range(len(BUDGET_LINES)) if lines_table[:, :, k].any()]

    plan_start, plan_end = day_number(policy.plan_start), day_number(policy.plan_end)
    late_surcharge = policy.fiscal_subsidy_fen if lp.surcharge == "fiscal_subsidy" else 0
    dl = policy.periods.group_list_deadline
    dl_day = day_number(dl.date) if dl is not None else None
    dl_groups = {GROUP_CODES.index(c) for c in dl.groups} if dl is not None else set()
    date_groups = (
        range(_G)
        if (cert is not None and cert.ndim == 2) or (ends is not None and ends.ndim == 2)
        else [_FP]
    )

    out_personal = np.empty(n, np.int64)
    out_standard = np.empty(n, np.int64)
    out_lines = {line: np.zeros(n, np.int64) for line in BUDGET_LINES}
    out_rule = np.empty(n, np.int16)
    out_cat = np.empty(n, np.int8)

    for start in range(0, n, _CHUNK):
        sl = slice(start, min(n, start + _CHUNK))
        b = birth[sl]
        cat = cat_all[sl]
        bits = bits_all[sl]
        # memberships that do not count for the plan year
        if cert is not None or ends is not None:
            drop = np.zeros(bits.shape[0], dtype=np.uint32)
            for g in date_groups:
                bad = None
                e = _column(ends, g, sl)
                if e is not None:
                    bad = (e != NONE_DAY) & (e < plan_start)
                c = _column(cert, g, sl)
                if c is not None:
                    limit = (
                        min(plan_end, dl_day)
                        if (dl_day is not None and g in dl_groups)
                        else plan_end
                    )
                    late_cert = c > limit
                    bad = late_cert if bad is None else (bad | late_cert)
                if bad is not None:
                    drop |= np.where(bad, np.uint32(1 << g), np.uint32(0))
            bits = bits & ~drop

        matched: dict[int, np.ndarray] = {}

        for r in primary:
            matched[r.index] = _match(r, bits, b, cert, later, sl)
        for r in combos:
            partner = np.zeros(bits.shape[0], dtype=bool)
            for p in r.partners:
                if p in matched:  # a partner only for payments in the period is not, late
                    partner |= matched[p]
            matched[r.index] = _match(r, bits, b, cert, later, sl) & partner
        if fallbacks:
            any_primary = np.zeros(bits.shape[0], dtype=bool)
            for r in primary + combos:
                any_primary |= matched[r.index]
            for r in fallbacks:
                matched[r.index] = _match(r, bits, b, cert, later, sl) & ~any_primary

        best_total = np.full(bits.shape[0], -1, dtype=np.int64)
        best_rule = np.full(bits.shape[0], -1, dtype=np.int16)
        for r in order:
            total = r.totals[0] if uniform_std else r.totals[cat]
            better = matched[r.index] & (total > best_total)
            best_total = np.where(better, total, best_total)
            best_rule[better] = r.index
        if forfeit:
            best_rule[:] = -1
        flat = (best_rule.astype(np.intp) + 1) * len(INSURED_CATEGORIES) + cat
        std = std_table[cat]
        subsidy = np.zeros(bits.shape[0], dtype=np.int64)
        for k in used_lines:
            amounts = lines_table[:, :, k].ravel()[flat]
            out_lines[BUDGET_LINES[k]][sl] = amounts
            subsidy += amounts
        out_personal[sl] = std + (late_surcharge if late else 0) - subsidy
        out_standard[sl] = std
        out_rule[sl] = best_rule
        out_cat[sl] = cat

    surcharge = np.full(n, late_surcharge if late else 0, np.int64)
    # rows the vectorised path does not decide: late payment, newborns
    special = np.zeros(n, dtype=bool)
    if paid is not None:
        special |= (paid != NONE_DAY) & (paid > day_number(policy.in_period_until))
    if policy.newborn is not None and registered is not None:
        special |= (registered != NONE_DAY) & (birth >= plan_start) & (birth <= plan_end)
    rows = np.flatnonzero(special)
    rule_pos = {rid: i for i, rid in enumerate(policy.rule_ids)}
    for i in rows:
        person, paid_on = person_from_columns(
            columns,
            int(i),
            _arrays=(birth, declared, bits_all, cert, later, ends, paid, registered),
        )
        if refused[i]:  # a declaration the plan refuses: decided by the birth date, as above
            person = dataclasses.replace(person, insured_category=None)
        det = determine(policy, person, paid_on=paid_on)
        if late:
            day = late_payment_day(det, policy)
            if day is not None:
                det = determine(policy, person, paid_on=day)
        out_personal[i] = det.personal_fen
        out_standard[i] = det.standard_fen
        surcharge[i] = det.surcharge_fen
        for line in BUDGET_LINES:
            out_lines[line][i] = 0
        for s in det.subsidies:
            out_lines[s.funding_source][i] += s.amount_fen
        won = [t.rule_id for t in det.trace if t.outcome == WON]
        out_rule[i] = rule_pos[won[0]] if won else -1
        out_cat[i] = INSURED_CATEGORIES.index(det.insured_category)

    return BatchResult(
        personal_fen=out_personal,
        standard_fen=out_standard,
        surcharge_fen=surcharge,
        by_budget_line=out_lines,
        winning_rule=out_rule,
        insured_category=out_cat,
        per_person_rows=rows,
        refused=refused,
    )


def coverage_floor(policy: Policy, birth_days: np.ndarray) -> np.ndarray:
    """The on-time coverage start as day numbers: the plan year's start, or the birth date of
    someone born after it (coverage never starts before birth)."""
    return np.maximum(np.asarray(birth_days, np.int64), day_number(policy.plan_start))


def _normalised(columns: BatchColumns) -> tuple[np.ndarray | None, ...]:
    n = len(columns)
    declared = (
        np.full(n, -1, np.int8)
        if columns.insured_category is None
        else np.asarray(columns.insured_category)
    )
    return (
        as_days(columns.birth_date),
        declared,
        as_bitmask(columns.groups, n),
        as_days(columns.certified_on),
        as_days(columns.later_birth_on),
        as_days(columns.ends_on),
        as_days(columns.paid_on),
        as_days(columns.registered_on),
    )


def iter_people(columns: BatchColumns) -> Iterator[tuple[PersonFacts, dt.date | None]]:
    """Every row as (PersonFacts, paid_on), for determine(); used to check the batch path."""
    arrays = _normalised(columns)
    for i in range(len(columns)):
        yield person_from_columns(columns, i, _arrays=arrays)


def person_from_columns(
    columns: BatchColumns,
    i: int,
    _arrays: tuple[np.ndarray | None, ...] | None = None,
) -> tuple[PersonFacts, dt.date | None]:
    """Row i of the columns as the PersonFacts (and paid_on) that determine() takes."""
    if _arrays is None:
        _arrays = _normalised(columns)
    birth, declared, bits, cert, later, ends, paid, registered = _arrays
    assert birth is not None and declared is not None and bits is not None

    def at(arr: np.ndarray | None, g: int) -> dt.date | None:
        if arr is None:
            return None
        if arr.ndim == 1:
            return from_day_number(int(arr[i])) if g == _FP else None
        return from_day_number(int(arr[i, g]))

    groups = tuple(
        GroupMembership(
            code, certified_on=at(cert, g), ends_on=at(ends, g), later_birth_on=at(later, g)
        )
        for g, code in enumerate(GROUP_CODES)
        if int(bits[i]) & (1 << g)
    )
    d = int(declared[i])
    broken = 0 if columns.broken_years is None else int(columns.broken_years[i])
    back = 0 if columns.paid_back_years is None else int(columns.paid_back_years[i])
    person = PersonFacts(
        birth_date=from_day_number(int(birth[i])) or _EPOCH,
        insured_category=None if d == -1 else ("(unknown)" if d < 0 else INSURED_CATEGORIES[d]),
        groups=groups,
        registered_on=None if registered is None else from_day_number(int(registered[i])),
        broken_years=broken,
        paid_back_years=back,
    )
    paid_on = None if paid is None else from_day_number(int(paid[i]))
    return person, paid_on
