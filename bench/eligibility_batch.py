"""Benchmark: eligibility determinations per second for a Tengzhou-scale population.

Runs, in one process on one core:
  1. the vectorised determine_batch() over 1.5 million synthetic residents (Tengzhou 2025 plan);
  2. a plain-Python loop over the same people with the Tengzhou 2025 rules hard-coded (baseline);
  3. the per-person determine() (with its full trace) on a sample.
It checks that 1 and 2 agree on every person and prints determinations per second.

    python bench/eligibility_batch.py [--persons 1500000] [--sample 20000] [--repeat 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kernels.policy import GROUP_CODES, PolicyCatalog, determine, determine_batch  # noqa: E402
from kernels.policy.batch import BatchColumns, day_number, iter_people  # noqa: E402
from services.eligibility.plans.registry import SEED_DIR  # noqa: E402

# Share of residents certified in each group (a few percent each; rough county-level orders of
# magnitude, not official statistics).
GROUP_SHARES: dict[str, float] = {
    "extreme_poverty": 0.004,
    "minimum_living_allowance": 0.030,
    "low_income_margin": 0.010,
    "poverty_monitoring": 0.008,
    "relapsed_poverty": 0.002,
    "lifted_out_of_poverty": 0.030,
    "orphan": 0.0005,
    "unsupported_child": 0.0005,
    "child_in_difficulty": 0.002,
    "severe_disability": 0.015,
    "entitled_veteran": 0.005,
    "family_planning_household": 0.020,
}


def synthetic_population(n: int, plan_year: int, seed: int = 20250101) -> BatchColumns:
    rng = np.random.default_rng(seed)
    # age pyramid: more people of working age, a tail to 100
    ages = np.clip(rng.normal(42, 22, n), 0, 100).astype(np.int64)
    day_in_year = rng.integers(0, 365, n)
    birth = (
        np.array([day_number(dt.date(plan_year - a, 1, 1)) for a in range(101)], np.int64)[ages]
        + day_in_year
    )
    groups = np.zeros(n, np.uint32)
    for g, code in enumerate(GROUP_CODES):
        groups |= np.where(rng.random(n) < GROUP_SHARES[code], np.uint32(1 << g), np.uint32(0))
    # declared students: a fifth of those aged 15 to 24 in the plan year (about 2 % of all);
    # a younger declared student is refused by every plan (student_min_age)
    student = (ages >= 15) & (ages <= 24) & (rng.random(n) < 0.2)
    category = np.where(student, 2, -1).astype(np.int8)
    return BatchColumns(birth_date=birth, insured_category=category, groups=groups)


# --- baseline: plain Python, Tengzhou 2025 rules hard-coded ---------------------------------
_BIT = {code: 1 << i for i, code in enumerate(GROUP_CODES)}
_HARDSHIP = sum(
    _BIT[c]
    for c in (
        "extreme_poverty",
        "minimum_living_allowance",
        "relapsed_poverty",
        "low_income_margin",
        "poverty_monitoring",
        "orphan",
        "unsupported_child",
        "child_in_difficulty",
    )
)
# family planning households count only when certified before 2016-01-01 (二(三)2, assumption
# two_child_policy_date); the synthetic memberships carry no certification date, so the rule
# never applies to them, in the engine as here
_FP = 0
_FULL_CITY = _BIT["severe_disability"] | _BIT["entitled_veteran"]


def baseline_tengzhou_2025(
    birth_years: list[int], groups: list[int]
) -> tuple[list[int], list[int], list[int], list[int]]:
    """(personal, medical assistance fund, city, township) in fen; age reached in 2025."""
    personal, maf, city, town = [], [], [], []
    for by, g in zip(birth_years, groups, strict=True):
        age = 2025 - by
        # most generous first; equal amounts in the plan's order (hardship, 70+, family planning,
        # disability, veterans), as the policy file's priorities declare
        if g & _HARDSHIP:
            p, a, c, t = 0, 40000, 0, 0
        elif age >= 70:
            p, a, c, t = 0, 0, 40000, 0
        elif g & _FP:
            p, a, c, t = 0, 0, 20000, 20000
        elif g & _FULL_CITY:
            p, a, c, t = 0, 0, 40000, 0
        elif age >= 60:
            p, a, c, t = 20000, 0, 20000, 0
        else:
            p, a, c, t = 40000, 0, 0, 0
        personal.append(p)
        maf.append(a)
        city.append(c)
        town.append(t)
    return personal, maf, city, town


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_500_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    policy = PolicyCatalog.load(SEED_DIR).get("370481", 2025)
    cols = synthetic_population(args.persons, policy.plan_year)
    n = len(cols)
    print(
        f"plan {policy.region_name} {policy.region_code}-{policy.plan_year}, "
        f"version {policy.short_version}"
    )
    print(
        f"population {n:,} persons; group shares "
        + ", ".join(f"{k} {v:.1%}" for k, v in GROUP_SHARES.items())
    )

    best = float("inf")
    result = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = determine_batch(policy, cols)
        best = min(best, time.perf_counter() - t0)
    assert result is not None
    batch_rate = n / best

    birth_years = (
        cols.birth_date.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    ).tolist()
    group_list = cols.groups.tolist()  # type: ignore[union-attr]
    t0 = time.perf_counter()
    personal, maf, city, town = baseline_tengzhou_2025(birth_years, group_list)
    base_time = time.perf_counter() - t0
    base_rate = n / base_time

    same = (
        np.array_equal(result.personal_fen, np.array(personal))
        and np.array_equal(result.by_budget_line["medical_assistance_fund"], np.array(maf))
        and np.array_equal(result.by_budget_line["city_finance"], np.array(city))
        and np.array_equal(result.by_budget_line["township_finance"], np.array(town))
    )

    sample = BatchColumns(
        birth_date=cols.birth_date[: args.sample],
        insured_category=None
        if cols.insured_category is None
        else cols.insured_category[: args.sample],
        groups=None if cols.groups is None else cols.groups[: args.sample],
    )
    people = list(iter_people(sample))
    t0 = time.perf_counter()
    for facts, paid_on in people:
        determine(policy, facts, paid_on=paid_on)
    per_person_rate = len(people) / (time.perf_counter() - t0)

    subsidized = int((result.winning_rule >= 0).sum())
    print(
        f"subsidized persons: {subsidized:,} ({subsidized / n:.1%}); "
        f"personal total {int(result.personal_fen.sum()) // 100:,} yuan"
    )
    print(
        f"determine_batch (vectorised, best of {args.repeat}): {best * 1000:8.1f} ms  "
        f"{batch_rate:>14,.0f} determinations/s"
    )
    print(
        f"plain-Python loop, hard-coded rules:   {base_time * 1000:8.1f} ms  "
        f"{base_rate:>14,.0f} determinations/s"
    )
    print(
        f"determine() per person with trace ({len(people):,} sample): "
        f"{per_person_rate:>10,.0f} determinations/s"
    )
    print(f"batch vs baseline identical on all {n:,} persons: {same}")
    print(f"speed-up over the plain loop: {batch_rate / base_rate:.1f}x")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
