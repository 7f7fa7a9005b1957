"""Event handlers of the `reporting` consumer. They run inside the inbox transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import eligibility, payments, registration
from services.reporting.projections import repository as repo
from services.reporting.projections.state import contributions, derive
from shared.events import CloudEvent
from shared.inbox import EventRouter

CONSUMER = "reporting"
router = EventRouter()


async def recompute(session: AsyncSession, person_id: str, plan_year: int) -> None:
    """Derive the person-year from the stored sources and move the counters by the difference."""
    await repo.lock_person_year(session, person_id, plan_year)
    person, enrollment, determination, payments, old = await repo.load_facts(
        session, person_id, plan_year
    )
    new = derive(plan_year, person, enrollment, determination, payments)
    if new == old:
        return
    await repo.save_person_year(session, person_id, plan_year, new)
    delta = contributions(plan_year, new).minus(contributions(plan_year, old))
    if delta:
        await repo.apply_deltas(session, delta)


@router.on(registration.PersonRegistered, registration.PersonChanged)
async def on_person(session: AsyncSession, data: registration.PersonPayload,
                    event: CloudEvent) -> None:
    person_id = str(data.person_id)
    if await repo.upsert_person(session, data.wire()):
        for plan_year in sorted(await repo.plan_years_of(session, person_id)):
            await recompute(session, person_id, plan_year)


@router.on(registration.EnrollmentRegistered, registration.EnrollmentChanged)
async def on_enrollment(session: AsyncSession, data: registration.EnrollmentPayload,
                        event: CloudEvent) -> None:
    if await repo.upsert_enrollment(session, data.wire()):
        await recompute(session, str(data.person_id), data.plan_year)


@router.on(registration.TargetSet)
async def on_target(session: AsyncSession, data: registration.TargetSet,
                    event: CloudEvent) -> None:
    await repo.upsert_target(session, data.wire(), event.time)


@router.on(registration.VillageAdded)
async def on_village(session: AsyncSession, data: registration.VillageAdded,
                     event: CloudEvent) -> None:
    """A village's name as uploaded to registration (shown on lists and the dashboard)."""
    await repo.upsert_region_name(session, data.wire())


@router.on(eligibility.DeterminationChanged, eligibility.AdjustmentDue)
async def on_determination(session: AsyncSession, data: eligibility.DeterminationChanged,
                           event: CloudEvent) -> None:
    if await repo.upsert_determination(session, data.wire()):
        await recompute(session, str(data.person_id), data.plan_year)


@router.on(payments.PaymentReceived, payments.PaymentRefunded, payments.PaymentReversed)
async def on_payment(session: AsyncSession, data: payments.PaymentPayload,
                     event: CloudEvent) -> None:
    if await repo.upsert_payment(session, data.wire()):
        await recompute(session, str(data.person_id), data.plan_year)


@router.on(payments.ReconciliationCompleted)
async def on_reconciliation(session: AsyncSession, data: payments.ReconciliationCompleted,
                            event: CloudEvent) -> None:
    """One row per reconciliation run (docs/EVENTS.md); the payload is kept whole and its
    integer figures are summed by the summary."""
    await repo.upsert_reconciliation(session, str(data.reconciliation_id), data.channel,
                                     data.statement_date, event.time, data.wire())


@router.on(payments.TaxReconciliationCompleted)
async def on_tax_reconciliation(session: AsyncSession,
                                data: payments.TaxReconciliationCompleted,
                                event: CloudEvent) -> None:
    """The tax bureau's period reconciliation (docs/EXCHANGE.md), kept like a channel's run:
    one row per period, replaced by each later revision."""
    await repo.upsert_reconciliation(session, data.reconciliation_id, data.channel,
                                     data.statement_date, event.time, data.wire())


TOPICS = router.topics
