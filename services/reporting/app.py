"""Reporting: progress, publicity and reminder lists, funding applications, fund and
reconciliation summaries, and the 督办 dashboard, all from projections of other services' events."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting.access import RULES as ACCESS_RULES
from services.reporting.api_summaries import SUMMARIES
from services.reporting.dashboard.router import router as dashboard
from services.reporting.funds.router import router as funds
from services.reporting.lists.router import router as lists
from services.reporting.progress.router import router as progress
from services.reporting.projections.handlers import CONSUMER, TOPICS
from services.reporting.projections.handlers import router as handlers
from shared.service import AuditedRead, ConsumerSpec, create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "reporting",
        summaries=SUMMARIES,
        routers=[progress, lists, funds, dashboard],
        consumers=[ConsumerSpec(CONSUMER, TOPICS, handlers)],
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
    )
