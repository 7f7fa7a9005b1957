"""The plans in force: loaded from the policy folder, recorded in the `policies` table with their
content hash as version, and looked up county -> city -> province."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kernels.policy import Policy, PolicyCatalog

log = logging.getLogger(__name__)
S = "eligibility"


class PlanRegistry:
    def __init__(self, catalog: PolicyCatalog) -> None:
        self.catalog = catalog

    @classmethod
    def from_folder(cls, folder: str | Path | None) -> PlanRegistry:
        return cls(PolicyCatalog.load(Path(folder) if folder else None))

    def find(self, region_code: str, plan_year: int) -> Policy | None:
        return self.catalog.find(region_code, plan_year)

    def resolve(self, region_code: str, plan_year: int) -> Policy:
        return self.catalog.resolve(region_code, plan_year)

    def by_version(self, version: str) -> Policy | None:
        return next((p for p in self.catalog if p.version == version), None)

    async def record(self, session: AsyncSession) -> list[Policy]:
        """Store every loaded plan; returns those whose version was not stored before."""
        new: list[Policy] = []
        for policy in self.catalog:
            row = (await session.execute(
                text(f"""INSERT INTO {S}.policies (version, region_code, plan_year, source, content)
                         VALUES (:v, :r, :y, CAST(:s AS jsonb), CAST(:c AS jsonb))
                         ON CONFLICT (version) DO NOTHING RETURNING version"""),
                {"v": policy.version, "r": policy.region_code, "y": policy.plan_year,
                 "s": orjson.dumps(source_of(policy)).decode(),
                 "c": orjson.dumps(policy.raw, default=str).decode()},
            )).first()
            if row is not None:
                new.append(policy)
                log.info("plan %s-%s loaded, version %s", policy.region_code, policy.plan_year,
                         policy.short_version)
        return new


def source_of(policy: Policy) -> dict[str, object]:
    src = policy.source
    return {
        "title": src.title, "document_number": src.document_number, "issuer": src.issuer,
        "issued_on": src.issued_on.isoformat(), "seed_file": src.seed_file,
        "file": policy.path.name if policy.path else None,
    }
