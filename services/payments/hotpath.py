"""A plain asyncpg pool for the two hot paths (webhook intake and bill lookup).

They run one prepared statement per request; going through the ORM session (pool pre-ping,
transaction bookkeeping) would cost more than the statement itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI


def plain_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


async def _init(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=lambda v: orjson.dumps(v).decode(),
                              decoder=orjson.loads, schema="pg_catalog")


async def create_pool(database_url: str, size: int) -> asyncpg.Pool:
    return await asyncpg.create_pool(plain_url(database_url), min_size=1, max_size=size,
                                     init=_init, command_timeout=30)


def with_pool(app: FastAPI, database_url: str, size: int, extra: Any = None) -> None:
    """Wrap the app's lifespan so that `app.state.pg` exists while it runs."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            app.state.pg = await create_pool(database_url, size)
            try:
                yield
            finally:
                await app.state.pg.close()

    app.router.lifespan_context = lifespan
