"""Stored notifications (payments.notifications): what matching made of each."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

S = "payments"
_SET_STATUS = text(f"UPDATE {S}.notifications SET status = :s WHERE id = :id")


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def set_status(self, notification_id: uuid.UUID, outcome: str) -> None:
        """What matching did with it (paid, suspense, duplicate, refunded, ...)."""
        await self.session.execute(_SET_STATUS, {"s": outcome, "id": notification_id})

    async def set_statuses(self, outcomes: list[tuple[uuid.UUID, str]]) -> None:
        """`set_status` of several notifications, one pipelined statement."""
        if outcomes:
            await self.session.execute(_SET_STATUS, [{"s": o, "id": i} for i, o in outcomes])
