"""Stateless preview: what a person would owe under a region's plan, and why. No I/O."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kernels.policy import (
    GROUP_CODES,
    GroupMembership,
    KnownHistory,
    PersonFacts,
    Policy,
    PolicyCatalog,
    determine,
    determine_terms,
    owed_on,
)
from kernels.policy.errors import InvalidDeclaration
from kernels.policy.owed import CLOSED, LATE
from kernels.policy.scope import ScopeBasis, scope_warning
from kernels.policy.trace import localized
from services.eligibility.determinations.schemas import PreviewRequest
from shared.errors import Conflict, Invalid, NotFound
from shared.i18n import Text
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
                          code="invalid_id_number", params={"reason": exc.text}) from None
        if birth is not None and birth != parsed.birth_date:
            raise Invalid(
                f"person.birth_date: {birth.isoformat()} differs from the birth date in the "
                f"ID number ({parsed.birth_date.isoformat()})",
                field="person.birth_date", code="birth_date_mismatch",
                params={"given": birth.isoformat(), "from_id": parsed.birth_date.isoformat()})
        birth = parsed.birth_date
    if birth is None:
        raise Invalid("person.birth_date: give a birth date or an ID number",
                      field="person.birth_date", code="birth_date_required")
    for i, g in enumerate(p.groups):
        if g.code not in _KNOWN:
            raise Invalid(
                f"person.groups[{i}].code: unknown group code {g.code!r}; "
                f"known codes: {', '.join(GROUP_CODES)}",
                field=f"person.groups[{i}].code", code="unknown_group_code",
                params={"code": g.code})
    return PersonFacts(
        birth_date=birth,
        insured_category=p.insured_category,
        groups=tuple(GroupMembership(g.code, g.certified_on, g.ends_on, g.later_birth_on)
                     for g in p.groups),
    )


def preview(catalog: PolicyCatalog, body: PreviewRequest, lang: str = "zh-CN") -> dict[str, Any]:
    """The determination of the person, and what is owed for a payment on `paid_on` (or on
    time), decided by owed_on as the bill and matching decide it. A payment date on which the
    plan year takes no payment any more answers 409 plan_year_closed, as the bill does."""
    policy = catalog.find(body.region_code, body.plan_year)
    if policy is None:
        raise NotFound(
            f"no plan for region {body.region_code} (nor its city or province) "
            f"and plan year {body.plan_year}", code="plan_not_found",
            params={"region_code": body.region_code, "plan_year": body.plan_year})
    facts = person_facts(body)
    try:
        on_time, terms = determine_terms(policy, facts, enrolled_on=body.enrolled_on)
    except InvalidDeclaration as exc:  # a declared category the plan refuses (422)
        raise exc.at("person") from None
    day = body.paid_on or terms.on_time_until
    owed = owed_on(terms, policy, day, KnownHistory(facts.broken_years, facts.paid_back_years))
    if owed.timing == CLOSED:
        raise plan_year_closed(owed.explanation, terms.payable_until, owed.explanation_en)
    chosen = on_time
    if owed.timing == LATE:  # the late determination's trace and assumptions
        chosen = determine(policy, facts, enrolled_on=body.enrolled_on, paid_on=day)
    out = chosen.to_dict()
    out.update(owed.to_dict())
    out["assumptions"] = policy.assumptions_in(
        list(dict.fromkeys([*chosen.assumptions, *owed.assumptions])), lang)
    out["trace"] = localized(out["trace"], lang)
    out["explanation"] = owed.explanation_in(lang)
    out.update(terms.event_fields())
    del out["paid_on"]
    out["region_code"] = policy.region_code
    out["warnings"] = scope_warnings(policy, body)
    return out


def scope_warnings(policy: Policy, body: PreviewRequest) -> list[str]:
    """A warning when the ID number's region is outside the plan's 参保范围 and no basis for
    enrolling here (residence permit, permit holder's child, local student) is declared."""
    p = body.person
    warning = scope_warning(policy, ScopeBasis(
        hukou_region=parse_id_number(p.id_number).region_code if p.id_number else None,
        residence_permit=p.residence_permit, residence_permit_child=p.residence_permit_child,
        local_student=p.local_student or p.insured_category == "student"))
    return [warning] if warning else []


def plan_year_closed(explanation: str, payable_until: dt.date,
                     explanation_en: str = "") -> Conflict:
    """409 for a payment date after which the plan year takes no payment (bill and preview)."""
    return Conflict(explanation, code="plan_year_closed",
                    details={"payable_until": payable_until.isoformat()},
                    params={"reason": Text(explanation, explanation_en or explanation)})
