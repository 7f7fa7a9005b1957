"""A small plain asyncpg pool made on first use, for the platform's per-request writers (the
shared rate limiter, the audit log): one statement per use, no session state, so nothing is
reset on release (asyncpg's default reset costs a round trip per use) and no SQLAlchemy
transaction bookkeeping (a BEGIN and a COMMIT round trip around a single statement).

    pool = LazyPool(lambda: settings.database_url, size=2, setup="CREATE TABLE IF NOT EXISTS ...")
    conn_pool = await pool.get()     # the first callers wait for one pool, made once
    await pool.close()               # at shutdown
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from shared.settings import to_plain_url

# what a concurrent replica's identical setup statement may raise at the same moment
_RACES = (asyncpg.UniqueViolationError, asyncpg.DuplicateTableError,
          asyncpg.DuplicateSchemaError, asyncpg.DuplicateObjectError)


class LazyPool:
    def __init__(self, dsn: str | Callable[[], str], *, size: int = 2, setup: str | None = None,
                 timeout: float = 2.0, command_timeout: float = 2.0) -> None:
        """`dsn`: the database URL, or a callable that gives it (known once the service runs).
        `setup`: statements run once when the pool is made (idempotent DDL)."""
        self._dsn = dsn
        self.size = size
        self.setup = setup
        self.timeout = timeout
        self.command_timeout = command_timeout
        self._pool: asyncpg.Pool | None = None
        self._making = asyncio.Lock()

    @property
    def dsn(self) -> str:
        return to_plain_url(self._dsn() if callable(self._dsn) else self._dsn)

    async def get(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._making:  # the first requests arrive together: one makes the pool
            if self._pool is None:
                pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=self.size,
                                                 timeout=self.timeout,
                                                 command_timeout=self.command_timeout,
                                                 reset=_no_reset)
                try:
                    if self.setup:
                        async with pool.acquire() as conn:
                            try:
                                await conn.execute(self.setup)
                            except _RACES:
                                pass  # another replica set it up at the same moment
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Users of a LazyPool leave no session state behind (see the module docstring)."""
