"""Payments: bills for channels, signed webhooks, ledger, suspense, proxy payments, refunds,
reconciliation. The composition root."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware import Middleware

from kernels.policy import PolicyCatalog
from services.payments.access import PUBLIC_PATHS
from services.payments.access import RULES as ACCESS_RULES
from services.payments.api_summaries import SUMMARIES
from services.payments.bills.router import router as bills
from services.payments.coverage import CoverageCalculator
from services.payments.dues.handlers import router as dues_handlers
from services.payments.fastlane import FastLane
from services.payments.hotpath import with_pool
from services.payments.matching.processor import processor
from services.payments.proxy.router import router as proxy
from services.payments.reconciliation.router import router as reconciliation
from services.payments.refunds.router import router as refunds
from services.payments.settings import PaymentsSettings, get_payments_settings
from services.payments.suspense.metrics import refresh_open_suspense
from services.payments.suspense.router import router as suspense
from services.payments.webhooks.router import router as webhooks
from shared import topics
from shared.outbox import Outbox
from shared.pii import vault_for
from shared.service import ConsumerSpec, create_service_app
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
    catalog = PolicyCatalog.load(Path(settings.policies_dir) if settings.policies_dir else None)
    coverage = CoverageCalculator(catalog)
    outbox = Outbox(NAME)
    app = create_service_app(
        NAME,
        summaries=SUMMARIES,
        routers=[bills, webhooks, suspense, proxy, refunds, reconciliation],
        consumers=[
            ConsumerSpec(NAME, (topics.REGISTRATION_PERSON, topics.ELIGIBILITY_DETERMINATION),
                         dues_handlers),
            # notifications are keyed by order number and matching locks the order and ledger
            # rows it changes: partitions can be matched side by side
            ConsumerSpec(PROCESSOR, (topics.PAYMENTS_NOTIFICATION,), processor(outbox, coverage),
                         parallel=True),
        ],
        settings=settings,
        access_rules=ACCESS_RULES,
        public_paths=PUBLIC_PATHS,
        probes=[refresh_open_suspense],
        title="Canbao payments",
    )
    app.state.adapters = adapters
    app.state.channel_regions = payments_settings.channel_regions()
    app.state.coverage = coverage
    app.state.vault = vault_for(settings)
    with_pool(app, settings.database_url, payments_settings.pool_size,
              group_commit=payments_settings.group_commit)
    if payments_settings.fast_lane:  # innermost: every shared middleware still applies
        app.user_middleware.append(Middleware(FastLane))
    if not adapters:
        log.warning("payments: no channel is configured; every webhook will be refused")
    return app
