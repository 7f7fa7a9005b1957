"""`canbao_suspense_open{reason}`: open suspense items, refreshed by the service's probe loop
(shared/service.py Runtime.probes) for the alert of deploy/prometheus/alerts.yml."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.observability import SUSPENSE_OPEN

_OPEN = text("SELECT reason, count(*) FROM payments.suspense WHERE status = 'open' "
             "GROUP BY reason")
_seen: set[str] = set()


async def refresh_open_suspense(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        counts = {reason: int(n) for reason, n in (await conn.execute(_OPEN)).all()}
    for reason in _seen - set(counts):
        SUSPENSE_OPEN.labels(reason).set(0)
    for reason, n in counts.items():
        SUSPENSE_OPEN.labels(reason).set(n)
    _seen.update(counts)
