"""Errors the engine raises; each message is meant to be shown to a person as it is."""

from __future__ import annotations

from pathlib import Path

from kernels.errors import Invalid


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


class InvalidDeclaration(EligibilityError, Invalid):
    """A declared fact the plan cannot accept (422 naming the field wherever it reaches an API)."""

    code = "invalid_declaration"

    def __init__(self, field: str, message: str, *, code: str | None = None,
                 params: dict[str, object] | None = None) -> None:
        self.field = field
        self.reason = message
        Invalid.__init__(self, f"{field}：{message}", field=field, code=code,
                         params={"reason": message, **(params or {})})

    def at(self, prefix: str) -> InvalidDeclaration:
        """The same refusal for a field nested under `prefix` (person.insured_category)."""
        return InvalidDeclaration(f"{prefix}.{self.field}", self.reason, code=self.code,
                                  params={k: v for k, v in self.params.items() if k != "reason"})


class UnknownInsuredCategory(InvalidDeclaration, ValueError):
    code = "unknown_insured_category"

    def __init__(self, category: str) -> None:
        self.category = category
        super().__init__(
            "insured_category",
            f"未知的参保类别 {category!r}（只能是 adult 成年居民、minor 少年儿童、student 学生）",
            params={"category": category},
        )


class ImpossibleCategory(InvalidDeclaration, ValueError):
    """A declared category the person cannot belong to under the plan (age, plan definition)."""

    code = "impossible_insured_category"

    def __init__(self, category: str, message: str) -> None:
        self.category = category
        super().__init__("insured_category", message)
