"""A plain asyncpg pool for the two hot paths (webhook intake and bill lookup).

They run one prepared statement per request; going through the ORM session (pool pre-ping,
transaction bookkeeping) would cost more than the statement itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from fastapi import FastAPI

from services.payments.deps import payments_of
from services.payments.webhooks.ingest import Intake


def plain_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


async def _init(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=lambda v: orjson.dumps(v).decode(),
                              decoder=orjson.loads, schema="pg_catalog")


async def _keep(conn: asyncpg.Connection) -> None:
    """Nothing to reset on release: the hot paths leave no session state behind (no SET, no
    LISTEN, no cursors, no advisory locks). asyncpg's default reset is a round trip per
    request, which profiling showed as an eighth of a worker's time under load."""


async def create_pool(database_url: str, size: int) -> asyncpg.Pool:
    return await asyncpg.create_pool(plain_url(database_url), min_size=1, max_size=size,
                                     init=_init, reset=_keep, command_timeout=30)


def with_pool(app: FastAPI, database_url: str, size: int, *, group_commit: bool = True) -> None:
    """Wrap the app's lifespan so that the pool and the webhook intake of its payments parts
    (services/payments/deps.py) exist while it runs; in-flight intake batches finish before
    the pool closes."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            payments = payments_of(app)
            pool = payments.pool = await create_pool(database_url, size)
            intake = payments.intake = Intake(pool, group_commit=group_commit)
            try:
                yield
            finally:
                await intake.drain()
                payments.intake = payments.pool = None
                await pool.close()

    app.router.lifespan_context = lifespan
