"""Eligibility: plans as versioned data, and determinations (who pays what, and why)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from kernels.policy import PolicyCatalog
from services.eligibility.access import RULES as ACCESS_RULES
from services.eligibility.api_summaries import SUMMARIES
from services.eligibility.deps import start_job
from services.eligibility.determinations.router import router as determinations
from services.eligibility.determinations.service import DeterminationService
from services.eligibility.facts.handlers import consumer_spec
from services.eligibility.plans.registry import Changed, PlanRegistry
from services.eligibility.plans.repository import PlanRepository
from services.eligibility.plans.router import router as plans_router
from services.eligibility.redeterminations.router import router as redeterminations
from services.eligibility.redeterminations.service import Redeterminator
from services.eligibility.simulations.router import router as simulations
from shared.outbox import Outbox
from shared.service import Runtime, create_service_app
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    plans = PlanRegistry(PolicyCatalog({}))  # filled from the registry at startup
    outbox = Outbox("eligibility")

    async def plans_changed(runtime: Runtime, changed: list[Changed]) -> None:
        """New plans: people waiting for one are determined. A plan in force replaced for a
        region and year (a correction): its enrolled population is re-determined, once."""
        async with runtime.sessions() as session, session.begin():
            decided = await DeterminationService(session, outbox, plans).redetermine_pending()
        if decided:
            log.info("eligibility: %d persons waiting for a plan were determined", decided)
        for region, year, before, after in changed:
            if before is None:
                continue
            async with runtime.sessions() as session, session.begin():
                claimed = await PlanRepository(session).claim_redetermination(region, year, after)
            if claimed is None:
                continue
            try:
                job = await app.state.redeterminator.create(region, year)
            except Exception:  # not started: unclaim it (POST /v1/redeterminations starts it)
                async with runtime.sessions() as session, session.begin():
                    await PlanRepository(session).unclaim_redetermination(claimed)
                raise
            async with runtime.sessions() as session, session.begin():
                await PlanRepository(session).set_redetermination_job(claimed, job["id"])
            log.info("eligibility: plan %s-%s corrected (%s -> %s): re-determination job %s",
                     region, year, before[:16], after[:16], job["id"])
            start_job(app, job["id"])

    async def on_startup(runtime: Runtime) -> None:
        async with runtime.sessions() as session, session.begin():
            await plans.seed(session, outbox, settings.policies_dir)
            await plans.refresh(session, force=True)
            decided = await DeterminationService(session, outbox, plans).redetermine_pending()
        if decided:
            log.info("eligibility: %d persons waiting for a plan were determined", decided)
        app.state.plans = plans
        app.state.redeterminator = Redeterminator(runtime.engine, plans)
        app.state.jobs = set()

        async def changed_now() -> None:
            async with runtime.engine.connect() as conn:
                changed = await plans.refresh(conn)
            if changed:
                await plans_changed(runtime, changed)

        app.state.plans_changed_now = changed_now
        runtime.tasks.append(asyncio.create_task(
            plans.follow(runtime.engine, runtime.stop,
                         lambda changed: plans_changed(runtime, changed)),
            name="eligibility-plans"))
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
        read_only_posts=("/v1/determinations/preview", "/v1/simulations",
                         "/v1/plans/drafts/{draft_id}/simulation"),
        title="Canbao eligibility",
        on_startup=on_startup,
    )
    app.state.plans = plans
    app.state.outbox = outbox
    return app
