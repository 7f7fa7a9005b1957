"""The canonical codes of DOMAIN.md, defined once: certified groups with their Chinese names,
insured categories, budget lines with their Chinese names and the age bases of policy files.

Every service's API, events (contracts/), policy files (kernels/policy) and uploads use these;
nothing else spells them out."""

from __future__ import annotations

from typing import Literal, get_args

from shared.i18n import Text

GroupCode = Literal[
    "extreme_poverty",
    "minimum_living_allowance",
    "low_income_margin",
    "poverty_monitoring",
    "relapsed_poverty",
    "lifted_out_of_poverty",
    "orphan",
    "unsupported_child",
    "child_in_difficulty",
    "severe_disability",
    "entitled_veteran",
    "family_planning_household",
]
GROUP_CODES: tuple[str, ...] = get_args(GroupCode)

GROUP_NAMES_ZH: dict[str, str] = {
    "extreme_poverty": "特困人员",
    "minimum_living_allowance": "低保对象",
    "low_income_margin": "低保边缘家庭成员",
    "poverty_monitoring": "防止返贫监测帮扶对象",
    "relapsed_poverty": "返贫致贫人口",
    "lifted_out_of_poverty": "脱贫享受政策人口",
    "orphan": "孤儿",
    "unsupported_child": "事实无人抚养儿童",
    "child_in_difficulty": "困境儿童",
    "severe_disability": "重度残疾人",
    "entitled_veteran": "抚恤定补优抚对象",
    "family_planning_household": "农村独女户/双女户/独生子女伤亡病残家庭",
}

InsuredCategory = Literal["adult", "minor", "student"]
INSURED_CATEGORIES: tuple[str, ...] = get_args(InsuredCategory)

BudgetLine = Literal[
    "medical_assistance_fund",
    "city_finance",
    "county_finance",
    "township_finance",
    "rural_revitalization",
]
BUDGET_LINES: tuple[str, ...] = get_args(BudgetLine)

AgeBasis = Literal["age_reached_in_plan_year", "age_on_jan_1_of_plan_year"]
AGE_BASES: tuple[str, ...] = get_args(AgeBasis)

_LABELS: dict[str, str] = {code: f"{code} ({zh})" for code, zh in GROUP_NAMES_ZH.items()}


def group_label(code: str) -> str:
    """'minimum_living_allowance (低保对象)' for traces a clerk reads."""
    return _LABELS.get(code, code)


GROUP_NAMES_EN: dict[str, str] = {
    "extreme_poverty": "persons in extreme poverty",
    "minimum_living_allowance": "minimum living allowance recipients",
    "low_income_margin": "members of low-income margin households",
    "poverty_monitoring": "people monitored against relapse into poverty",
    "relapsed_poverty": "people relapsed into poverty",
    "lifted_out_of_poverty": "people lifted out of poverty still under policy",
    "orphan": "orphans",
    "unsupported_child": "children without de facto support",
    "child_in_difficulty": "children in difficulty",
    "severe_disability": "persons with severe disabilities",
    "entitled_veteran": "entitled veterans and dependants",
    "family_planning_household": "rural one- or two-daughter and bereaved family-planning "
                                 "households",
}

BUDGET_LINE_NAMES_ZH: dict[str, str] = {
    "medical_assistance_fund": "医疗救助资金",
    "city_finance": "市财政",
    "county_finance": "县财政",
    "township_finance": "乡镇财政",
    "rural_revitalization": "乡村振兴资金",
}

BUDGET_LINE_NAMES_EN: dict[str, str] = {
    "medical_assistance_fund": "medical assistance fund",
    "city_finance": "city finance",
    "county_finance": "county finance",
    "township_finance": "township finance",
    "rural_revitalization": "rural revitalization fund",
}

CATEGORY_NAMES_ZH: dict[str, str] = {"adult": "成年居民", "minor": "少年儿童",
                                     "student": "大中专学生"}
CATEGORY_NAMES_EN: dict[str, str] = {"adult": "adult", "minor": "minor", "student": "student"}


def group_name(code: str) -> Text:
    """The group's name in both languages (the code itself when unknown)."""
    return Text(GROUP_NAMES_ZH.get(code, code), GROUP_NAMES_EN.get(code, code))


def budget_line_name(code: str) -> Text:
    """'市财政' / 'city finance' for the budget line code."""
    return Text(BUDGET_LINE_NAMES_ZH.get(code, code), BUDGET_LINE_NAMES_EN.get(code, code))


def category_name(code: str) -> Text:
    return Text(CATEGORY_NAMES_ZH.get(code, code), CATEGORY_NAMES_EN.get(code, code))
