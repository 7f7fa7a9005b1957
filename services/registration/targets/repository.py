"""Township enrollment targets (参保任务数) as stored."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

S = "registration"
_UPSERT = text(f"""INSERT INTO {S}.targets (plan_year, township_code, target)
                   VALUES (:y, :t, :n) ON CONFLICT (plan_year, township_code)
                   DO UPDATE SET target = EXCLUDED.target, updated_at = now()""")


async def put_targets(db: AsyncSession | AsyncConnection, plan_year: int,
                      targets: list[tuple[str, int]]) -> None:
    """Upsert (township_code, target) pairs (a session's or a bare connection's)."""
    await db.execute(_UPSERT, [{"y": plan_year, "t": t, "n": n} for t, n in targets])


class TargetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, plan_year: int, township_code: str, target: int) -> None:
        await self.session.execute(
            _UPSERT, {"y": plan_year, "t": township_code, "n": target})

    async def under(self, plan_year: int, prefix: str) -> list[tuple[int, str, int]]:
        """(plan year, township, target) of the townships whose code starts with `prefix`,
        by township code."""
        rows = await self.session.execute(
            text(f"""SELECT plan_year, township_code, target FROM {S}.targets
                     WHERE plan_year = :y AND township_code LIKE :c || '%'
                     ORDER BY township_code"""),
            {"y": plan_year, "c": prefix},
        )
        return [(r[0], r[1], r[2]) for r in rows]
