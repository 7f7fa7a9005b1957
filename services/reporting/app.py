"""Reporting: progress, publicity and reminder lists, funding applications, fund and
reconciliation summaries, and the 督办 dashboard, all from projections of other services' events."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from kernels.policy import PolicyCatalog, parse_policy
from services.reporting.access import RULES as ACCESS_RULES
from services.reporting.api_summaries import SUMMARIES
from services.reporting.dashboard.router import router as dashboard
from services.reporting.funds.router import router as funds
from services.reporting.lists.router import router as lists
from services.reporting.progress.router import router as progress
from services.reporting.projections.handlers import CONSUMER, TOPICS
from services.reporting.projections.handlers import router as handlers
from shared.plan_copies import PlanCopies
from shared.service import AuditedRead, ConsumerSpec, Runtime, create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    # the plans, as eligibility publishes them (eligibility.plan.v1), kept in reporting.plans
    copies = PlanCopies("reporting", parse_policy, PolicyCatalog)

    async def on_startup(runtime: Runtime) -> None:
        await copies.refresh(runtime.engine)
        runtime.tasks.append(asyncio.create_task(copies.follow(runtime.engine, runtime.stop),
                                                 name="reporting-plans"))

    app = create_service_app(
        "reporting",
        summaries=SUMMARIES,
        routers=[progress, lists, funds, dashboard],
        consumers=[ConsumerSpec(CONSUMER, TOPICS, handlers), copies.consumer()],
        settings=settings,
        access_rules=ACCESS_RULES,
        # lists of people (masked names and ID numbers, phone numbers for who calls them):
        # every read in the audit log, refused ones included
        audited_reads={
            "/v1/publicity-lists": AuditedRead("publicity_list.read", "publicity-lists"),
            "/v1/reminders": AuditedRead("reminders.read", "reminders"),
            "/v1/funding-applications": AuditedRead("funding_applications.read",
                                                    "funding-applications"),
        },
        title="Canbao reporting",
        on_startup=on_startup,
    )
    app.state.plans = copies
    return app
