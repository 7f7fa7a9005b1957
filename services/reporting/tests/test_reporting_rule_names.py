"""#14: the funding lists' 资助类别 column names the plan's rule in Chinese, never its id."""

from __future__ import annotations

from devtools.testing.plans import seed_catalog
from services.reporting.lists.service import funding_tables
from services.reporting.plans import plan_for


def test_rule_names_come_from_the_plan_in_chinese() -> None:
    plan = plan_for("370481", 2025, seed_catalog())
    assert plan is not None
    assert plan.rule_name("hardship_full") == "困难群众分类资助"
    assert plan.rule_name("elderly_60_69") == "60-69岁老年人"
    assert plan.rule_name("no_such_rule") == "no_such_rule"


def test_funding_tables_show_the_rule_name_column() -> None:
    row = {"budget_line_name": "医疗救助资金", "township_name": "北辛街道",
           "rule_id": "hardship_full", "rule_name": "困难群众分类资助", "headcount": 1,
           "amount_yuan": "400.00", "paid_headcount": 0}
    data = {"region_name": "滕州市", "plan_year": 2025, "as_of": "2025-01-01",
            "summary": [row], "persons": [], "missed_payments": None}
    summary = funding_tables(data)[0]
    columns = dict(summary.columns)
    assert columns["rule_name"] == "资助类别" and "rule_id" not in columns
