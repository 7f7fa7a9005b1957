"""Keep one current determination per person and plan year, following the person's facts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.eligibility import AdjustmentDue, DeterminationChanged
from kernels.policy import (
    GROUP_CODES,
    GroupMembership,
    InvalidDeclaration,
    PersonFacts,
    determine_terms,
)
from services.eligibility.determinations.repository import DeterminationRepository, same_result
from services.eligibility.facts.repository import FactsRepository
from services.eligibility.plans.registry import PlanRegistry
from shared.outbox import Outbox

log = logging.getLogger(__name__)

_KNOWN = frozenset(GROUP_CODES)
_STATUS_ZH = {"stopped": "已停止", "ended": "已终止", "active": "有效"}


def event_payload(person_id: uuid.UUID | str, plan_year: int, revision: int,
                  result: dict[str, Any], determined_at: dt.datetime) -> dict[str, Any]:
    cov = result["coverage_start"]
    return {
        "person_id": str(person_id), "plan_year": plan_year, "revision": revision,
        "enrolled": result["enrolled"], "region_code": result["region_code"],
        "county_code": result["county_code"], "township_code": result["township_code"],
        "village_code": result["village_code"], "policy_version": result["policy_version"],
        "insured_category": result["insured_category"], "standard_fen": result["standard_fen"],
        "personal_fen": result["personal_fen"], "surcharge_fen": result["surcharge_fen"],
        "subsidies": result["subsidies"],
        "coverage_start": cov.isoformat() if isinstance(cov, dt.date) else cov,
        "on_time_until": _iso(result.get("on_time_until")),
        "payable_until": _iso(result.get("payable_until")),
        "late": result.get("late"),
        "determined_at": determined_at.isoformat(),
    }


def _iso(value: dt.date | str | None) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else value


def refund_due(paid_fen: int, result: dict[str, Any], paid_on: dt.date | None = None) -> int:
    """What goes back to a person who paid more than the new determination asks of them: the
    outcome their payment date falls in (on time, or late after on_time_until). personal_fen
    already includes any surcharge."""
    if not result["enrolled"]:
        return max(0, paid_fen)
    owed = result["personal_fen"]
    late, until = result.get("late"), result.get("on_time_until")
    if late is not None and until is not None and paid_on is not None and paid_on > until:
        owed = int(late["personal_fen"])
    return max(0, paid_fen - owed)


class DeterminationService:
    def __init__(self, session: AsyncSession, outbox: Outbox, plans: PlanRegistry) -> None:
        self.session = session
        self.outbox = outbox
        self.plans = plans
        self.facts = FactsRepository(session)
        self.repo = DeterminationRepository(session)

    async def follow(self, person_id: uuid.UUID, plan_year: int | None, cause: str) -> None:
        """Re-determine the person for one plan year, or every year they are enrolled in."""
        await self.repo.lock_shared()
        years = [plan_year] if plan_year is not None else await self.facts.plan_years(person_id)
        for year in years:
            await self.redetermine(person_id, year, cause)

    async def redetermine(self, person_id: uuid.UUID, plan_year: int, cause: str) -> bool:
        """Returns True when a new current determination was recorded."""
        person = await self.facts.person(person_id)
        enrollment = await self.facts.enrollment(person_id, plan_year)
        if person is None or enrollment is None:
            return False  # the rest of the facts have not arrived yet
        policy = self.plans.find(enrollment.county_code, plan_year)
        if policy is None:
            await self.repo.set_pending(person_id, plan_year, enrollment.county_code)
            log.warning("eligibility: no plan for county %s and plan year %s; person %s is "
                        "pending until such a plan is loaded", enrollment.county_code,
                        plan_year, person_id)
            return False
        await self.repo.clear_pending(person_id, plan_year)
        enrolled = enrollment.status == "registered"
        result: dict[str, Any] = {
            "enrolled": enrolled, "region_code": policy.region_code,
            "county_code": enrollment.county_code, "township_code": enrollment.township_code,
            "village_code": enrollment.village_code, "policy_version": policy.version,
        }
        if enrolled:
            groups = []
            for g in await self.facts.groups(person_id):
                if g.group_code not in _KNOWN:
                    log.warning("eligibility: person %s holds unknown group code %r; ignored",
                                person_id, g.group_code)
                    continue
                groups.append(GroupMembership(g.group_code, g.certified_on, g.ends_on,
                                              g.later_birth_on))
            facts = PersonFacts(
                birth_date=person.birth_date, insured_category=enrollment.insured_category,
                groups=tuple(groups), registered_on=enrollment.registered_on,
            )
            try:
                on_time, terms = determine_terms(policy, facts)
            except InvalidDeclaration as refused:
                # A declared category the plan refuses (rules.derive_category). The bulk path
                # (redeterminations/population.py) prices such a person at the category their
                # birth date gives until the declaration is corrected; so does this one, so
                # that one bad declaration neither blocks the person's events nor bills them
                # the cheaper rate they cannot have.
                log.warning("eligibility: person %s, plan year %s: %s; priced at the category "
                            "of the birth date", person_id, plan_year, refused)
                facts = dataclasses.replace(facts, insured_category=None)
                on_time, terms = determine_terms(policy, facts)
            d = on_time.to_dict()
            d["coverage_start"] = on_time.coverage_start
            del d["policy_version"]
            result.update(d)
            result.update(on_time_until=terms.on_time_until, payable_until=terms.payable_until,
                          late=terms.late.to_dict() if terms.late is not None else None)
        else:
            result.update({
                "insured_category": enrollment.insured_category, "standard_fen": 0,
                "personal_fen": 0, "surcharge_fen": 0, "subsidies": [],
                "coverage_start": policy.plan_start, "on_time_until": None,
                "payable_until": None, "late": None, "assumptions": [],
                "trace": [{"rule_id": "enrollment", "matched": False, "outcome": "not enrolled",
                           "reason": "参保登记"
                                     f"{_STATUS_ZH.get(enrollment.status, enrollment.status)}"
                                     "：无需缴费",
                           "reason_en": f"enrollment {enrollment.status}; nothing is due"}],
            })
        current = await self.repo.current(person_id, plan_year)
        if same_result(current, result):
            return False
        det_id, at = await self.repo.record(person_id, plan_year, result, cause)
        payload = event_payload(person_id, plan_year, det_id, result, at)
        key = str(person_id)
        await self.outbox.add(self.session, DeterminationChanged(**payload), subject=key)
        paid = await self.facts.paid_fen(person_id, plan_year)
        if paid > 0 and current is not None:
            refund = refund_due(paid, result, await self.repo.last_paid_on(person_id, plan_year))
            if refund > 0:
                await self.outbox.add(
                    self.session,
                    AdjustmentDue(**payload, paid_fen=paid, refund_due_fen=refund), subject=key)
        return True

    async def redetermine_pending(self, batch: int = 500) -> int:
        """Persons waiting for a plan whose plan is now loaded; returns how many were decided."""
        done = 0
        after: tuple[uuid.UUID, int] | None = None
        while True:
            rows = await self.repo.pending_batch(after, batch)
            if not rows:
                return done
            for person_id, year, county in rows:
                if self.plans.find(county, year) is not None:
                    done += await self.redetermine(person_id, year, "plan_loaded")
            after = (rows[-1][0], rows[-1][1])
