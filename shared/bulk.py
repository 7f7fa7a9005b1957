"""Bulk writes for imports of hundreds of thousands of rows: the asyncpg connection under a
session, for COPY (the outbox's COPY form is `shared.outbox.Outbox.copy`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


async def driver_connection(session: AsyncSession | AsyncConnection) -> Any:
    """The asyncpg connection under a SQLAlchemy session, in the session's transaction."""
    conn = await session.connection() if isinstance(session, AsyncSession) else session
    raw = await conn.get_raw_connection()
    return raw.driver_connection
