"""`canbao_suspense_open{reason}`: open suspense items, refreshed by the service's probe loop
(shared/service.py Runtime.probes) for the alert of deploy/prometheus/alerts.yml."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.payments.suspense.repository import open_suspense_by_reason
from shared.observability import SUSPENSE_OPEN

_seen: set[str] = set()


async def refresh_open_suspense(engine: AsyncEngine) -> None:
    counts = await open_suspense_by_reason(engine)
    for reason in _seen - set(counts):
        SUSPENSE_OPEN.labels(reason).set(0)
    for reason, n in counts.items():
        SUSPENSE_OPEN.labels(reason).set(n)
    _seen.update(counts)
