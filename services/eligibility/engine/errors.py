"""Errors the engine raises; each message is meant to be shown to a person as it is."""

from __future__ import annotations

from pathlib import Path


class EligibilityError(Exception):
    """Base class for everything the eligibility engine raises on purpose."""


class PlanNotFound(EligibilityError, LookupError):
    def __init__(self, region_code: str, plan_year: int) -> None:
        self.region_code = region_code
        self.plan_year = plan_year
        super().__init__(
            f"no plan for region {region_code} and plan year {plan_year} "
            "(the catalog never falls back to another year)"
        )


class PolicyFileError(EligibilityError, ValueError):
    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"policy file {self.path.name} is invalid:\n{lines}")


class UnknownGroupCode(EligibilityError, ValueError):
    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"unknown group code {code!r}; known codes are listed in GROUP_CODES")


class UnknownInsuredCategory(EligibilityError, ValueError):
    def __init__(self, category: str) -> None:
        self.category = category
        super().__init__(f"unknown insured category {category!r}; expected adult, minor or student")
