"""Payments: bills for channels, signed webhooks, ledger, suspense, proxy payments, refunds,
reconciliation. The composition root."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware import Middleware

from kernels.policy import PolicyCatalog, parse_policy
from services.payments.access import PUBLIC_PATHS
from services.payments.access import RULES as ACCESS_RULES
from services.payments.api_summaries import SUMMARIES
from services.payments.bills.router import router as bills
from services.payments.collectors.router import router as collectors
from services.payments.coverage import CoverageCalculator
from services.payments.deps import Payments
from services.payments.dues.handlers import router as dues_handlers
from services.payments.fastlane import FastLane, build_table
from services.payments.hotpath import with_pool
from services.payments.matching.processor import processor
from services.payments.proxy.router import router as proxy
from services.payments.reconciliation.router import router as reconciliation
from services.payments.refunds.router import router as refunds
from services.payments.settings import PaymentsSettings, get_payments_settings
from services.payments.suspense.metrics import refresh_open_suspense
from services.payments.suspense.router import router as suspense
from services.payments.tax.router import router as tax
from services.payments.webhooks.router import router as webhooks
from shared import topics
from shared.errors import error_body
from shared.i18n import EN, request_language
from shared.messages import render
from shared.outbox import Outbox
from shared.pii import vault_for
from shared.plan_copies import PlanCopies
from shared.service import ConsumerSpec, Runtime, create_service_app
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)

NAME = "payments"
PROCESSOR = "payments-processor"


def create_app(
    settings: Settings | None = None, payments_settings: PaymentsSettings | None = None
) -> FastAPI:
    settings = settings or get_settings()
    payments_settings = payments_settings or get_payments_settings()
    adapters = payments_settings.adapters()
    # the plans, as eligibility publishes them (eligibility.plan.v1), kept in payments.plans
    copies = PlanCopies(NAME, parse_policy, PolicyCatalog)
    coverage = CoverageCalculator(copies)
    outbox = Outbox(NAME)

    async def on_startup(runtime: Runtime) -> None:
        await copies.refresh(runtime.engine)
        runtime.tasks.append(asyncio.create_task(copies.follow(runtime.engine, runtime.stop),
                                                 name="payments-plans"))
    app = create_service_app(
        NAME,
        summaries=SUMMARIES,
        routers=[bills, webhooks, suspense, proxy, refunds, reconciliation, tax,
                 collectors],
        consumers=[
            ConsumerSpec(NAME, (topics.REGISTRATION_PERSON, topics.ELIGIBILITY_DETERMINATION),
                         dues_handlers),
            # notifications are keyed by order number and matching locks the order and ledger
            # rows it changes: partitions can be matched side by side
            ConsumerSpec(PROCESSOR, (topics.PAYMENTS_NOTIFICATION,), processor(outbox, coverage),
                         parallel=True),
            copies.consumer(),
        ],
        settings=settings,
        access_rules=ACCESS_RULES,
        public_paths=PUBLIC_PATHS,
        probes=[refresh_open_suspense],
        title="Canbao payments",
        on_startup=on_startup,
    )
    app.state.payments = Payments(adapters=adapters,
                                  channel_regions=payments_settings.channel_regions(),
                                  coverage=coverage, vault=vault_for(settings), outbox=outbox)
    # an unexpected error answers in the shape of every other error, from a route or the fast
    # lane alike (the server-error middleware, outermost, runs this for both)
    app.add_exception_handler(Exception, internal_error)
    with_pool(app, settings.database_url, payments_settings.pool_size,
              group_commit=payments_settings.group_commit)
    if payments_settings.fast_lane:  # innermost: every shared middleware still applies
        build_table(app)  # fails here, not at the first call, when a hot route has no route
        app.user_middleware.append(Middleware(FastLane))
    if not adapters:
        log.warning("payments: no channel is configured; every webhook will be refused")
    return app


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    lang = request_language(request)
    return JSONResponse(error_body("internal_error", render("internal_error", lang) or ""), 500,
                        headers={"Content-Language": "en" if lang == EN else "zh-CN"})
