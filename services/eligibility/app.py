"""Eligibility: plans as versioned data, and determinations (who pays what, and why)."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from services.eligibility.access import RULES as ACCESS_RULES
from services.eligibility.api_summaries import SUMMARIES
from services.eligibility.determinations.router import router as determinations
from services.eligibility.determinations.service import DeterminationService
from services.eligibility.facts.handlers import consumer_spec
from services.eligibility.plans.registry import PlanRegistry
from services.eligibility.plans.router import router as plans_router
from services.eligibility.redeterminations.router import router as redeterminations
from services.eligibility.redeterminations.router import start_job
from services.eligibility.redeterminations.service import Redeterminator
from services.eligibility.simulations.router import router as simulations
from shared.outbox import Outbox
from shared.service import Runtime, create_service_app
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    plans = PlanRegistry.from_folder(settings.policies_dir)
    outbox = Outbox("eligibility")

    async def on_startup(runtime: Runtime) -> None:
        async with runtime.sessions() as session, session.begin():
            await plans.record(session)
            decided = await DeterminationService(session, outbox, plans).redetermine_pending()
        if decided:
            log.info("eligibility: %d persons waiting for a plan were determined", decided)
        app.state.plans = plans
        app.state.redeterminator = Redeterminator(runtime.engine, plans)
        app.state.jobs = set()
        for job in await app.state.redeterminator.unfinished():
            if plans.find(job["region_code"], job["plan_year"]) is not None:
                log.info("eligibility: resuming redetermination job %s", job["id"])
                start_job(app, job["id"])

    app = create_service_app(
        "eligibility",
        summaries=SUMMARIES,
        routers=[determinations, plans_router, redeterminations, simulations],
        consumers=[consumer_spec(plans, outbox)],
        settings=settings,
        access_rules=ACCESS_RULES,
        read_only_posts=("/v1/determinations/preview", "/v1/simulations"),
        title="Canbao eligibility",
        on_startup=on_startup,
    )
    app.state.plans = plans
    return app
