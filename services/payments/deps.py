"""Payments' typed dependencies: what routers are given instead of reading `request.app.state`.

- `PaymentsDep`: the service's parts (channel adapters, their regions, the coverage calculator,
  the PII vault, the outbox; the hot-path pool and webhook intake while the app runs), built
  once by create_app.
- `UnitOfWorkDep`: one transaction per request, begun when the route first touches the
  database and committed once when the route function returns, before the answer is sent (a
  failed commit answers as an error, never as success); rolled back when the route raises.
  Routers never open or commit transactions themselves.
- `PrincipalDep`: the authenticated caller (the app-wide access check has run).
- the services, over the request's unit of work: `PostingDep`, `SuspenseServiceDep`,
  `RefundServiceDep`, `ProxyServiceDep`, `ReconciliationServiceDep`, `BillServiceDep`,
  `TaxExchangeServiceDep`, `TaxReconciliationServiceDep`, `CollectorServiceDep`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.payments.bills.service import BillService
from services.payments.channels import ChannelAdapter
from services.payments.collectors.service import CollectorService
from services.payments.coverage import CoverageCalculator
from services.payments.ledger.posting import Posting, UnitOfWork
from services.payments.proxy.service import ProxyBatchService
from services.payments.reconciliation.service import ReconciliationService
from services.payments.refunds.service import RefundService
from services.payments.suspense.service import SuspenseService
from services.payments.tax.reconciliation import TaxReconciliationService
from services.payments.tax.service import ExchangeService
from services.payments.webhooks.ingest import Intake
from shared.auth import PrincipalDep
from shared.outbox import Outbox
from shared.pii import PiiVault

__all__ = [
    "BillServiceDep", "CollectorServiceDep", "Payments", "PaymentsDep", "PostingDep",
    "PrincipalDep", "ProxyServiceDep", "ReconciliationServiceDep", "RefundServiceDep", "SuspenseServiceDep",
    "TaxExchangeServiceDep", "TaxReconciliationServiceDep", "UnitOfWorkDep", "payments_of",
]


@dataclass
class Payments:
    """The parts of the payments service, typed. `pool` and `intake` (the hot paths' plain
    asyncpg pool and the group-committed webhook intake, services/payments/hotpath.py) exist
    while the app runs."""

    adapters: Mapping[str, ChannelAdapter]
    channel_regions: Mapping[str, str]
    coverage: CoverageCalculator
    vault: PiiVault
    outbox: Outbox
    pool: asyncpg.Pool | None = None
    intake: Intake | None = None
    _bills: BillService | None = None

    def bills(self) -> BillService:
        """The bill service, one per running pool (it keeps the decisions its lookups share)."""
        assert self.pool is not None, "the app is not running"
        if self._bills is None or self._bills.pool is not self.pool:
            self._bills = BillService(self.pool, self.vault, self.coverage)
        return self._bills


def payments_of(app: FastAPI) -> Payments:
    """The payments parts of an app (for the fast lane, which has no Request)."""
    found: Payments = app.state.payments
    return found


def _payments(request: Request) -> Payments:
    return payments_of(request.app)


PaymentsDep = Annotated[Payments, Depends(_payments)]


async def _unit_of_work(request: Request, payments: PaymentsDep) -> AsyncIterator[UnitOfWork]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session, session.begin():
        yield UnitOfWork(session, payments.outbox)


# scope="function": the transaction ends when the route function returns, before the answer
UnitOfWorkDep = Annotated[UnitOfWork, Depends(_unit_of_work, scope="function")]


def _posting(uow: UnitOfWorkDep, payments: PaymentsDep) -> Posting:
    return Posting(uow, payments.coverage)


PostingDep = Annotated[Posting, Depends(_posting)]


def _suspense(posting: PostingDep, payments: PaymentsDep,
              principal: PrincipalDep) -> SuspenseService:
    return SuspenseService(posting, actor=principal, channel_regions=payments.channel_regions)


def _refunds(posting: PostingDep, principal: PrincipalDep) -> RefundService:
    return RefundService(posting, actor=principal)


def _proxy(posting: PostingDep, principal: PrincipalDep) -> ProxyBatchService:
    return ProxyBatchService(posting, actor=principal)


def _reconciliation(uow: UnitOfWorkDep, payments: PaymentsDep) -> ReconciliationService:
    return ReconciliationService(uow, channels=payments.adapters.keys())


def _bills(payments: PaymentsDep) -> BillService:
    return payments.bills()


def _tax_exchange(posting: PostingDep, payments: PaymentsDep) -> ExchangeService:
    return ExchangeService(posting, payments.vault)


def _tax_reconciliation(posting: PostingDep, payments: PaymentsDep) -> TaxReconciliationService:
    return TaxReconciliationService(posting, payments.vault)


def _collectors(posting: PostingDep, payments: PaymentsDep) -> CollectorService:
    return CollectorService(posting, payments.vault)


SuspenseServiceDep = Annotated[SuspenseService, Depends(_suspense)]
RefundServiceDep = Annotated[RefundService, Depends(_refunds)]
ProxyServiceDep = Annotated[ProxyBatchService, Depends(_proxy)]
ReconciliationServiceDep = Annotated[ReconciliationService, Depends(_reconciliation)]
BillServiceDep = Annotated[BillService, Depends(_bills)]
TaxExchangeServiceDep = Annotated[ExchangeService, Depends(_tax_exchange)]
TaxReconciliationServiceDep = Annotated[TaxReconciliationService, Depends(_tax_reconciliation)]
CollectorServiceDep = Annotated[CollectorService, Depends(_collectors)]
