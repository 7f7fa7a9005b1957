"""Stateless preview: what a person would owe under a region's plan, and why. No I/O."""

from __future__ import annotations

from typing import Any

from services.eligibility.determinations.schemas import PreviewRequest
from services.eligibility.engine import (
    GROUP_CODES,
    GroupMembership,
    PersonFacts,
    PolicyCatalog,
    determine,
)
from shared.errors import Invalid, NotFound
from shared.idnumber import InvalidIdNumber, parse_id_number

_KNOWN = frozenset(GROUP_CODES)


def person_facts(body: PreviewRequest) -> PersonFacts:
    p = body.person
    birth = p.birth_date
    if p.id_number is not None:
        try:
            parsed = parse_id_number(p.id_number)
        except InvalidIdNumber as exc:
            raise Invalid(f"person.id_number: {exc}", field="person.id_number",
                          code="invalid_id_number") from None
        if birth is not None and birth != parsed.birth_date:
            raise Invalid(
                f"person.birth_date: {birth.isoformat()} differs from the birth date in the "
                f"ID number ({parsed.birth_date.isoformat()})",
                field="person.birth_date", code="birth_date_mismatch")
        birth = parsed.birth_date
    if birth is None:
        raise Invalid("person.birth_date: give a birth date or an ID number",
                      field="person.birth_date", code="birth_date_required")
    for i, g in enumerate(p.groups):
        if g.code not in _KNOWN:
            raise Invalid(
                f"person.groups[{i}].code: unknown group code {g.code!r}; "
                f"known codes: {', '.join(GROUP_CODES)}",
                field=f"person.groups[{i}].code", code="unknown_group_code")
    return PersonFacts(
        birth_date=birth,
        insured_category=p.insured_category,
        groups=tuple(GroupMembership(g.code, g.certified_on, g.ends_on, g.later_birth_on)
                     for g in p.groups),
    )


def preview(catalog: PolicyCatalog, body: PreviewRequest) -> dict[str, Any]:
    policy = catalog.find(body.region_code, body.plan_year)
    if policy is None:
        raise NotFound(
            f"no plan for region {body.region_code} (nor its city or province) "
            f"and plan year {body.plan_year}", code="plan_not_found")
    facts = person_facts(body)
    result = determine(policy, facts, enrolled_on=body.enrolled_on, paid_on=body.paid_on)
    out = result.to_dict()
    out["region_code"] = policy.region_code
    return out
