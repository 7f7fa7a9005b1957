"""A plain asyncpg pool for the two hot paths (webhook intake and bill lookup).

They run one prepared statement per request; going through the ORM session (pool pre-ping,
transaction bookkeeping) would cost more than the statement itself.

One database stack? Payments speaks to PostgreSQL through one driver, asyncpg, in two ways,
each confined to its place:

- SQLAlchemy Core sessions (`text()` statements, no ORM) over the shared engine, for every
  transaction that changes state with events: the unit of work (ledger/posting.py), the
  outbox, the inbox and the audit log, which are the platform's and run on SQLAlchemy
  (shared/);
- this pool, used only by two repositories, `bills/repository.py` and `webhooks/ingest.py`,
  and reached only through `Payments.pool` / `Payments.intake` (deps.py).

Moving the hot paths onto the sessions would bring back the costs profiling removed (a
pre-ping and a reset round trip per checkout, session bookkeeping; BENCHMARKS.md #5, #7);
moving everything onto raw asyncpg would mean a second outbox, inbox and audit writer beside
the platform's. Neither is worth it: the split stays, at the repository boundary.
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
