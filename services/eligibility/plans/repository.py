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

    async def claim_redetermination(self, region_code: str, plan_year: int,
                                    version: str) -> int | None:
        """Claim the re-determination of the newest publication of this version (job 0: being
        started); its id, None when another process claimed it first."""
        claimed = (await self.session.execute(text("""
            UPDATE eligibility.plan_publications SET redetermination_job = 0
            WHERE id = (SELECT max(id) FROM eligibility.plan_publications
                        WHERE region_code = :r AND plan_year = :y AND version = :v)
              AND redetermination_job IS NULL RETURNING id"""),
            {"r": region_code, "y": plan_year, "v": version})).first()
        return None if claimed is None else int(claimed[0])

    async def unclaim_redetermination(self, publication_id: int) -> None:
        await self.session.execute(text(
            "UPDATE eligibility.plan_publications SET redetermination_job = NULL "
            "WHERE id = :id"), {"id": publication_id})

    async def set_redetermination_job(self, publication_id: int, job_id: int) -> None:
        await self.session.execute(text(
            "UPDATE eligibility.plan_publications SET redetermination_job = :j "
            "WHERE id = :id"), {"j": job_id, "id": publication_id})
