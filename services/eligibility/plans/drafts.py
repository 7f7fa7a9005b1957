"""Drafts of plans, four eyes and publication: upload -> check -> (simulate) -> approve by a
second officer -> publish at a set date; an earlier version can be published again.

Every step is in the audit log with who and when (`plan.upload`, `plan.approve`,
`plan.publish`), and on the draft and publication rows themselves.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kernels.policy import Policy, parse_policy
from services.eligibility.plans.checks import ERROR, check_plan
from services.eligibility.plans.diff import plan_diff
from services.eligibility.plans.registry import (
    PlanRegistry,
    beijing_today,
    content_json,
    publish_version,
)
from services.eligibility.plans.repository import DraftRepository, S
from services.eligibility.simulations.service import simulate
from shared import audit
from shared.auth import Principal, require_region
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.outbox import Outbox


def refuse(problems: list[Any]) -> Invalid:
    errors = [p for p in problems if p.severity == ERROR]
    error = Invalid("plan：草案方案有误，共 " + str(len(errors)) + " 处：" +
                    "；".join(p.text() for p in errors), field="plan", code="invalid_plan")
    error.details["problems"] = [p.to_dict() for p in problems]
    return error


def compared_with(plans: PlanRegistry, policy: Policy) -> Policy | None:
    """The version in force for the draft's region and year, else the region's latest before."""
    current = plans.catalog.find(policy.region_code, policy.plan_year)
    if current is not None and current.region_code == policy.region_code:
        return current
    return plans.catalog.latest_before(policy.region_code, policy.plan_year)


def check_draft(plans: PlanRegistry, content: str | dict[str, Any]) -> tuple[Policy, list[Any]]:
    """The plan and its warnings; every error at once raises Invalid (422)."""
    policy, problems = check_plan(content)
    if policy is not None:
        previous = plans.catalog.latest_before(policy.region_code, policy.plan_year)
        policy, problems = check_plan(content, previous)
    if policy is None or any(p.severity == ERROR for p in problems):
        raise refuse(problems)
    return policy, problems


def _draft(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id), "region_code": row.region_code, "plan_year": row.plan_year,
        "version": row.version, "status": row.status, "author": row.author,
        "created_at": row.created_at.isoformat(), "approved_by": row.approved_by,
        "approved_at": row.approved_at.isoformat() if row.approved_at else None,
        "publication": row.publication_id, "based_on_version": row.based_on_version,
        "warnings": row.warnings,
    }


class PlanDrafts:
    def __init__(self, session: AsyncSession, outbox: Outbox, plans: PlanRegistry) -> None:
        self.session = session
        self.outbox = outbox
        self.plans = plans
        self.drafts = DraftRepository(session)
        self.published = False  # a publication was made: the catalog takes it in after commit

    async def upload(self, content: str | dict[str, Any], principal: Principal) -> dict[str, Any]:
        policy, warnings = check_draft(self.plans, content)
        require_region(principal, policy.region_code)
        base = compared_with(self.plans, policy)
        draft_id = uuid.uuid4()
        row = await self.drafts.insert({
            "id": draft_id, "r": policy.region_code, "y": policy.plan_year, "v": policy.version,
            "c": content_json(policy), "t": content if isinstance(content, str) else None,
            "w": orjson.dumps([w.to_dict() for w in warnings]).decode(),
            "b": base.version if base else None, "a": principal.subject,
            "ar": principal.region})
        await audit.record(self.session, S, actor=principal, action="plan.upload",
                           resource=f"plan_draft/{draft_id}", details={
                               "region_code": policy.region_code, "plan_year": policy.plan_year,
                               "version": policy.version})
        return {**_draft(row), "diff": plan_diff(policy, base)}

    async def _row(self, draft_id: uuid.UUID, principal: Principal, *,
                   lock: bool = False) -> Any:
        row = await self.drafts.get(draft_id, lock=lock)
        if row is None:
            raise NotFound(f"草案 {draft_id} 不存在（no such draft）", code="draft_not_found")
        require_region(principal, row.region_code)
        return row

    async def get(self, draft_id: uuid.UUID, principal: Principal) -> dict[str, Any]:
        row = await self._row(draft_id, principal)
        policy = parse_policy(row.content, "draft")
        base = compared_with(self.plans, policy)
        return {**_draft(row), "content": row.content, "text": row.text,
                "compared_with": base.version if base else None,
                "diff": plan_diff(policy, base)}

    async def simulate(self, draft_id: uuid.UUID, principal: Principal, engine: AsyncEngine,
                       people_limit: int) -> dict[str, Any]:
        """The draft's simulation against the plan in force (`simulate`). The session is closed
        once the draft is read: the simulation reads the population on connections of its
        own, for as long as it takes, and holds none of the request's."""
        draft = await self.get(draft_id, principal)
        await self.session.close()
        return await simulate(engine, self.plans, draft["content"],
                              principal=principal, people_limit=people_limit)

    async def list(self, principal: Principal, region_code: str | None,
                   plan_year: int | None) -> list[dict[str, Any]]:
        rows = await self.drafts.newest(region_code, plan_year)
        return [_draft(r) for r in rows if principal.can_see_region(r.region_code)]

    async def approve(self, draft_id: uuid.UUID, principal: Principal) -> dict[str, Any]:
        row = await self._row(draft_id, principal, lock=True)
        if row.status != "draft":
            raise Conflict(f"草案状态为 {row.status}，只能批准待批准的草案", code="draft_not_open")
        if row.author == principal.subject:  # the refusal is audited by the middleware
            raise Forbidden("草案须由另一名经办人批准：起草人不能批准自己的草案（four eyes: the "
                            "author cannot approve their own draft）", code="four_eyes")
        row = await self.drafts.approve(draft_id, principal.subject)
        await audit.record(self.session, S, actor=principal, action="plan.approve",
                           resource=f"plan_draft/{draft_id}", details={"version": row.version})
        return _draft(row)

    async def publish(self, draft_id: uuid.UUID, principal: Principal,
                      effective_on: dt.date | None) -> dict[str, Any]:
        row = await self._row(draft_id, principal, lock=True)
        if row.status != "approved":
            raise Conflict(f"草案状态为 {row.status}：须经另一名经办人批准后才能发布",
                           code="draft_not_approved")
        policy = parse_policy(row.content, "draft")
        published = await self._publish(policy, principal, effective_on, draft_id=draft_id)
        await self.drafts.mark_published(draft_id, published["publication"])
        return published

    async def republish(self, region_code: str, plan_year: int, publication: int,
                        principal: Principal, effective_on: dt.date | None) -> dict[str, Any]:
        require_region(principal, region_code)
        row = await self.drafts.published_content(publication, region_code, plan_year)
        if row is None:
            raise NotFound(f"{region_code}-{plan_year} 没有第 {publication} 号发布",
                           code="publication_not_found")
        policy = parse_policy(row.content, "plan")
        return await self._publish(policy, principal, effective_on, republished_from=row.id)

    async def _publish(self, policy: Policy, principal: Principal,
                       effective_on: dt.date | None, **kw: Any) -> dict[str, Any]:
        day = effective_on or beijing_today()
        if day < beijing_today():
            raise Invalid("effective_on：生效日期不能早于今天", field="effective_on",
                          code="effective_in_past")
        earlier = await self.drafts.any_publication(policy.region_code, policy.plan_year)
        self.published = True
        return await publish_version(self.session, self.outbox, policy, effective_on=day,
                                     actor=principal, correction=earlier, **kw)

    async def history(self, region_code: str, plan_year: int) -> list[dict[str, Any]]:
        rows = await self.drafts.publications(region_code, plan_year)
        in_force = self.plans.catalog.find(region_code, plan_year)
        return [{
            "publication": r.id, "version": r.version, "effective_on": r.effective_on.isoformat(),
            "correction": r.correction, "republished_from": r.republished_from,
            "published_by": r.published_by, "published_at": r.published_at.isoformat(),
            "draft_id": str(r.draft_id) if r.draft_id else None, "author": r.author,
            "drafted_at": r.drafted_at.isoformat() if r.drafted_at else None,
            "approved_by": r.approved_by,
            "approved_at": r.approved_at.isoformat() if r.approved_at else None,
            "redetermination_job": r.redetermination_job,
            "in_force": in_force is not None and in_force.version == r.version
            and in_force.region_code == region_code,
        } for r in rows]
