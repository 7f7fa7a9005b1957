"""Villages (村/社区) uploaded per county, as stored; the shipped division tree above them is
read from the file shipped with the service."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kernels.regions import Region

S = "registration"


class VillageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_township(self, township: str) -> list[Region]:
        rows = await self.session.execute(
            text(f"SELECT code, township_code, name FROM {S}.villages WHERE township_code = :t "
                 "ORDER BY code"), {"t": township})
        return [Region(r[0], r[1], "village", r[2]) for r in rows]

    async def of_county(self, county_code: str | None = None) -> list[Region]:
        """The villages of one county, or (None) all of them."""
        rows = await self.session.execute(
            text(f"SELECT code, township_code, name FROM {S}.villages "
                 "WHERE CAST(:c AS text) IS NULL OR code LIKE :c || '%'"),
            {"c": county_code[:6] if county_code else None})
        return [Region(r[0], r[1], "village", r[2]) for r in rows]

    async def get(self, code: str) -> Region | None:
        row = (await self.session.execute(
            text(f"SELECT code, township_code, name FROM {S}.villages WHERE code = :c"),
            {"c": code})).first()
        return None if row is None else Region(row[0], row[1], "village", row[2])

    async def add(self, villages: Sequence[tuple[Region, str | None]], sha256: str) -> None:
        """(village, urban_rural) pairs of one upload."""
        await self.session.execute(
            text(f"""INSERT INTO {S}.villages (code, township_code, name, urban_rural, upload_sha256)
                     VALUES (:c, :t, :n, :u, :s)"""),
            [{"c": v.code, "t": v.parent_code, "n": v.name, "u": urban_rural, "s": sha256}
             for v, urban_rural in villages])
