"""`canbao plans new`'s draft text (services.cli_plans.next_year_text), without a service."""

from __future__ import annotations

import yaml

from services.cli_plans import REVISIT, next_year_text
from services.eligibility.plans.registry import SEED_DIR


def _draft(name: str, year: int) -> list[str]:
    content = yaml.safe_load((SEED_DIR / name).read_text(encoding="utf-8"))
    return next_year_text(content, year).splitlines()


def test_texts_naming_the_old_plan_year_are_marked_for_review() -> None:
    """The age-basis assumption of 370481-2025 explains ages as "2025减出生年份": copied to
    2027, both its statements carry the 待核对 marker (they did not: only dates, figures and
    quotes were marked), while a text naming another year is left unmarked."""
    lines = _draft("370481-2025.yaml", 2027)
    zh = next(line for line in lines if "减出生年份" in line)
    en = next(line for line in lines if "minus birth year" in line)
    assert zh.endswith(f"# {REVISIT}") and "2025减出生年份" in zh
    assert en.endswith(f"# {REVISIT}")
    reason = next(line for line in lines
                  if line.strip().startswith("reason:") and "60岁（含60岁）" in line)
    assert REVISIT not in reason  # names no year
    ident = next(line for line in lines if line.strip() == "- id: late_payment_national_2025")
    assert ident  # an identifier is a name the plan's rules refer to: not marked for editing


def test_a_year_inside_a_longer_number_is_not_the_plan_year() -> None:
    """Only the year as a number of its own counts: a document number or an amount that
    contains the digits (12025) does not make a line for review."""
    content = yaml.safe_load((SEED_DIR / "370481-2025.yaml").read_text(encoding="utf-8"))
    content["region_name"] = "测试12025号"
    header = next_year_text(content, 2027).splitlines()
    assert not any(line.startswith("region_name") and REVISIT in line for line in header)
