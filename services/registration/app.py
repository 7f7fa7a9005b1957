"""Registration: who is in the campaign (persons, households, enrollments, lists, targets)."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from kernels.policy import PolicyCatalog, parse_policy
from services.registration.access import RULES as ACCESS_RULES
from services.registration.api_summaries import SUMMARIES
from services.registration.enrollments.router import router as enrollments
from services.registration.intake.router import router as intake
from services.registration.lists.router import router as lists
from services.registration.memberships.router import router as memberships
from services.registration.persons.router import (
    FULL_ID_READ,
    HOUSEHOLD_READ,
    VILLAGE_LIST_READ,
    households,
)
from services.registration.persons.router import router as persons
from services.registration.reference.router import router as reference
from services.registration.regions.router import router as regions
from services.registration.targets.router import router as targets
from shared.plan_copies import PlanCopies
from shared.security_settings import get_security_settings
from shared.service import AuditedRead, Runtime, create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None, *,
               max_upload_bytes: int | None = None) -> FastAPI:
    """`max_upload_bytes` overrides CANBAO_MAX_UPLOAD_BYTES (the shared body-size limit)."""
    security = get_security_settings()
    if max_upload_bytes is not None:
        security = security.model_copy(update={"max_upload_bytes": max_upload_bytes})
    # the plan years eligibility has published (eligibility.plan.v1, kept in registration.plans)
    copies = PlanCopies("registration", parse_policy, PolicyCatalog)

    async def on_startup(runtime: Runtime) -> None:
        await copies.refresh(runtime.engine)
        runtime.tasks.append(asyncio.create_task(copies.follow(runtime.engine, runtime.stop),
                                                 name="registration-plans"))

    app = create_service_app(
        "registration",
        summaries=SUMMARIES,
        routers=[persons, households, enrollments, memberships, targets, regions, lists, intake,
                 reference],
        settings=settings,
        security=security,
        consumers=[copies.consumer()],
        on_startup=on_startup,
        access_rules=ACCESS_RULES,
        audited_reads={"/v1/persons/{person_id}/id-number": FULL_ID_READ,
                       "/v1/persons": VILLAGE_LIST_READ,
                       "/v1/households/{household_id}": HOUSEHOLD_READ,
                       "/v1/missing": AuditedRead(action="persons.read_missing",
                                                  resource="missing"),
                       "/v1/duplicates": AuditedRead(action="persons.read_duplicates",
                                                     resource="duplicates"),
                       "/v1/lists/{department}/{plan_year}/current": AuditedRead(
                           action="list.download", resource="list/{department}/{plan_year}")},
        title="Canbao registration",
    )
    app.state.plans = copies
    return app
