"""Canonical codes shared by every service's API, events and policy files (DOMAIN.md)."""

GROUP_CODES = (
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
)
INSURED_CATEGORIES = ("adult", "minor", "student")
BUDGET_LINES = (
    "medical_assistance_fund",
    "city_finance",
    "county_finance",
    "township_finance",
    "rural_revitalization",
)
