"""Who may enroll in the resident scheme of a county (the plans' 参保范围), as a pure check.

Scope (every seed plan): local household registration (户籍) and not in the employee scheme;
non-local students of local schools; holders of a local residence permit (居住证) and their
minor children. A person without a recorded 户籍 region is taken to be registered where the
township registered them (townships register from the household register)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScopeFacts:
    county_code: str
    hukou_region_code: str | None
    residence_permit: bool
    category: str
    in_employee_scheme: bool
    parent_has_residence_permit: bool


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    params: dict[str, str] | None = None


def check_scope(f: ScopeFacts) -> Refusal | None:
    if f.in_employee_scheme:
        return Refusal("in_employee_scheme",
                       "the person is enrolled in the employee medical insurance scheme "
                       "(职工医保); nobody may be insured twice")
    if f.category == "student":
        return None
    if f.hukou_region_code is None or f.hukou_region_code[:6] == f.county_code[:6]:
        return None
    if f.residence_permit:
        return None
    if f.category == "minor" and f.parent_has_residence_permit:
        return None
    return Refusal("out_of_scope",
                   f"household registration (户籍) is in {f.hukou_region_code[:6]}, not in "
                   f"{f.county_code[:6]}; enrollment here needs a local residence permit "
                   "(居住证), a parent holding one, or study at a local school",
                   {"hukou": f.hukou_region_code[:6], "county": f.county_code[:6]})
