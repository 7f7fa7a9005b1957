"""Event handlers of the `reporting` consumer. They run inside the inbox transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.projections import repository as repo
from services.reporting.projections.state import contributions, derive
from shared.events import CloudEvent
from shared.inbox import EventRouter
from shared.topics import (
    ELIGIBILITY_DETERMINATION,
    PAYMENTS_PAYMENT,
    PAYMENTS_RECONCILIATION,
    REGISTRATION_ENROLLMENT,
    REGISTRATION_PERSON,
    REGISTRATION_REGION,
    REGISTRATION_TARGET,
)

CONSUMER = "reporting"
TOPICS = (
    REGISTRATION_PERSON,
    REGISTRATION_ENROLLMENT,
    REGISTRATION_TARGET,
    REGISTRATION_REGION,
    ELIGIBILITY_DETERMINATION,
    PAYMENTS_PAYMENT,
    PAYMENTS_RECONCILIATION,
)

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


@router.on("registration.person_registered.v1", "registration.person_changed.v1")
async def on_person(session: AsyncSession, event: CloudEvent) -> None:
    d = event.data
    if await repo.upsert_person(session, d):
        for plan_year in sorted(await repo.plan_years_of(session, d["person_id"])):
            await recompute(session, d["person_id"], plan_year)


@router.on("registration.enrollment_registered.v1", "registration.enrollment_changed.v1")
async def on_enrollment(session: AsyncSession, event: CloudEvent) -> None:
    d = event.data
    if await repo.upsert_enrollment(session, d):
        await recompute(session, d["person_id"], int(d["plan_year"]))


@router.on("registration.target_set.v1")
async def on_target(session: AsyncSession, event: CloudEvent) -> None:
    await repo.upsert_target(session, event.data, event.time)


@router.on("registration.village_added.v1", "registration.village_changed.v1")
async def on_village(session: AsyncSession, event: CloudEvent) -> None:
    """A village's name as uploaded to registration (shown on lists and the dashboard)."""
    await repo.upsert_region_name(session, event.data)


@router.on("eligibility.determination_changed.v1", "eligibility.adjustment_due.v1")
async def on_determination(session: AsyncSession, event: CloudEvent) -> None:
    d = event.data
    if await repo.upsert_determination(session, d):
        await recompute(session, d["person_id"], int(d["plan_year"]))


@router.on("payments.payment_received.v1", "payments.payment_refunded.v1",
           "payments.payment_reversed.v1")
async def on_payment(session: AsyncSession, event: CloudEvent) -> None:
    d = event.data
    if await repo.upsert_payment(session, d):
        await recompute(session, d["person_id"], int(d["plan_year"]))


@router.on("payments.reconciliation_completed.v1")
async def on_reconciliation(session: AsyncSession, event: CloudEvent) -> None:
    """One row per reconciliation run (docs/EVENTS.md); the payload is kept whole and its
    integer figures are summed by the summary."""
    d = event.data
    channel = str(d.get("channel") or "unknown")
    raw_date = d.get("statement_date") or d.get("date")
    statement_date = dt.date.fromisoformat(raw_date) if raw_date else None
    key = str(d.get("reconciliation_id") or f"{channel}:{raw_date or event.id}")
    await repo.upsert_reconciliation(session, key, channel, statement_date, event.time, d)
