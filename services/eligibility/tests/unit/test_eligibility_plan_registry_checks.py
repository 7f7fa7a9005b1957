"""The registry's checks of a draft (line, field, Chinese message; every problem at once) and
the diff in money terms, on Tengzhou 2025 (seed 000) changed one way at a time."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kernels.policy import PolicyCatalog
from services.eligibility.plans.checks import ERROR, WARNING, check_plan
from services.eligibility.plans.diff import plan_diff
from services.eligibility.plans.registry import SEED_DIR

TENGZHOU = (SEED_DIR / "370481-2025.yaml").read_text(encoding="utf-8")


def plan() -> dict[str, Any]:
    return yaml.safe_load(TENGZHOU)  # type: ignore[no-any-return]


def rule(content: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in content["subsidy_rules"] if r["id"] == rule_id)


def text_of(content: dict[str, Any]) -> str:
    return yaml.safe_dump(content, allow_unicode=True, sort_keys=False)


@pytest.mark.parametrize("name", sorted(p.name for p in SEED_DIR.glob("*.yaml")))
def test_the_seed_plans_pass_every_check(name: str) -> None:
    catalog = PolicyCatalog.load(SEED_DIR)
    policy, problems = check_plan((SEED_DIR / name).read_text(encoding="utf-8"))
    assert policy is not None
    _, problems = check_plan((SEED_DIR / name).read_text(encoding="utf-8"),
                             catalog.latest_before(policy.region_code, policy.plan_year))
    assert problems == []


def test_schema_errors_come_all_at_once_with_their_lines() -> None:
    bad = (TENGZHOU.replace('yuan: "400"', "yuan: 400.5")
           .replace("priority: 21", "priority: x")
           .replace("plan_year: 2025\n", "plan_year: 2025\nbogus: 1\n"))
    policy, problems = check_plan(bad)
    assert policy is None
    by_field = {p.field: p for p in problems}
    assert set(by_field) == {"bogus", "standards[0].yuan", "subsidy_rules[2].priority"}
    assert by_field["bogus"].line == TENGZHOU.splitlines().index("plan_year: 2025") + 2
    assert "不认识的字段" in by_field["bogus"].message
    assert all(p.severity == ERROR for p in problems)


def test_a_figure_without_its_quote_is_an_error_unless_an_assumption_explains_it() -> None:
    """二(三)1 says 50%: a share of 60 % quoting it is refused, naming the field and line."""
    content = plan()
    rule(content, "elderly_60_69")["shares"][0]["percent"] = "60"
    _, problems = check_plan(text_of(content))
    [p] = problems
    assert (p.severity, p.field) == (ERROR, "subsidy_rules[2].shares[0].source")
    assert "60%" in p.message and p.line is not None
    rule(content, "elderly_60_69")["shares"][0]["assumptions"] = ["age_basis"]
    _, problems = check_plan(text_of(content))
    assert problems == []


def test_a_rule_that_can_never_apply() -> None:
    """70+ (full, city) matches everyone a new 75+ rule of 50 % matches and pays more."""
    content = plan()
    content["subsidy_rules"].append({
        "id": "elderly_75_plus", "label": "75+", "priority": 22, "when": {"age": {"min": 75}},
        "shares": [{"kind": "percent", "percent": "50", "funding_source": "county_finance",
                    "source": "承担50%"}], "source": "invented"})
    _, problems = check_plan(content)
    [p] = [p for p in problems if p.field.endswith(".when")]
    assert p.severity == ERROR and "elderly_75_plus 永远不会适用" in p.message
    assert "elderly_70_plus" in p.message


def test_a_budget_line_nobody_pays() -> None:
    """A remainder after a 100 % share is zero for everyone."""
    content = plan()
    rule(content, "severe_disability")["shares"] = [
        {"kind": "percent", "percent": "100", "funding_source": "city_finance",
         "source": "市财政承担100%"},
        {"kind": "remainder", "funding_source": "township_finance", "source": "余额"}]
    _, problems = check_plan(content)
    [p] = problems
    assert (p.severity, p.field) == (ERROR, "subsidy_rules[4].shares[1]")
    assert "镇街财政" in p.message and "没有人支付" in p.message


def test_a_tie_order_nobody_reaches_is_a_warning() -> None:
    content = plan()
    rule(content, "severe_disability")["tie_break"] = {"source": "二(三)"}
    rule(content, "severe_disability")["when"] = {"groups_any": ["severe_disability"],
                                                 "age": {"max": 5}}
    rule(content, "entitled_veteran")["when"]["age"] = {"min": 18}
    content["subsidy_rules"] = [r for r in content["subsidy_rules"]
                                if r["id"] in ("severe_disability", "entitled_veteran")]
    content["assumptions"] = [a for a in content["assumptions"]
                              if a["id"] not in ("tie_budget_line", "two_child_policy_date")]
    _, problems = check_plan(content)
    [p] = problems
    assert (p.severity, p.field) == (WARNING, "subsidy_rules[0].tie_break")


def test_periods_that_overlap_or_leave_a_gap_with_the_year_before() -> None:
    catalog = PolicyCatalog.load(SEED_DIR)
    previous = catalog.get("370481", 2025)
    content = plan()
    content["plan_year"] = 2026
    content["periods"]["collection"].update(start="2024-12-01", end="2025-12-31")
    content["periods"]["coverage"].update(start="2026-02-01", end="2026-12-31")
    _, problems = check_plan(content, previous)
    by_field = {p.field: p for p in problems}
    assert "空档" in by_field["periods.coverage.start"].message
    assert "重叠" in by_field["periods.collection.start"].message
    assert by_field["periods.coverage"].severity == WARNING  # not the whole year


def test_the_diff_says_what_a_change_means_in_money() -> None:
    catalog = PolicyCatalog.load(SEED_DIR)
    content = plan()
    share = rule(content, "elderly_60_69")["shares"][0]
    share.update(percent="60", source="二(三)1: 市财政承担60%")
    content["standards"][0].update(yuan="420", source="每人每年420元")
    policy, problems = check_plan(content)
    assert policy is not None and problems == []
    texts = [d["text"] for d in plan_diff(policy, catalog.get("370481", 2025))]
    assert "成年人个人缴费标准由 400.00元 改为 420.00元（每人多缴 20.00元）" in texts
    assert ("60-69 周岁（elderly_60_69）：市财政由 50% 改为 60%（每人 200.00元 改为 "
            "252.00元）") in texts
