"""Reads of the plans eligibility has loaded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession


class PlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def versions(self) -> Sequence[RowMapping]:
        """Every plan version ever loaded, by region, year and load time."""
        result: Any = await self.session.execute(text(
            "SELECT version, region_code, plan_year, source, loaded_at FROM eligibility.policies "
            "ORDER BY region_code, plan_year, loaded_at"))
        rows: Sequence[RowMapping] = result.mappings().all()
        return rows
