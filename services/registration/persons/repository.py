from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kernels.regions.codes import narrowest_sql, within_sql
from shared.idnumber import mask_id_number, mask_name

S = "registration"
# Households are identified by their register number: the id is derived from it, so a bulk
# import and the API agree on a household's id without asking the database.
HOUSEHOLD_NAMESPACE = uuid.UUID("6f1d3a52-1c1e-4c55-9d0c-6b2f7a0c5e11")


def household_id_of(household_no: str) -> uuid.UUID:
    return uuid.uuid5(HOUSEHOLD_NAMESPACE, household_no)


@dataclass
class PersonRow:
    id: uuid.UUID
    id_number_hash: str
    id_number_masked: str
    name: str
    birth_date: dt.date
    sex: str
    phone: str | None
    household_id: uuid.UUID | None
    county_code: str
    township_code: str | None
    village_code: str | None
    revision: int
    relation_to_head: str | None = None
    hukou_region_code: str | None = None
    residence_permit: bool = False
    school: str | None = None
    household_no: str | None = None  # the household's 户号 (households.household_no)
    address: str | None = None

    def __post_init__(self) -> None:
        # masks stored before the mask changed are shown, and sent, as today's mask
        self.id_number_masked = mask_id_number(self.id_number_masked)

    @property
    def name_masked(self) -> str:
        return mask_name(self.name)

    def snapshot(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in SNAPSHOT_FIELDS}


SNAPSHOT_FIELDS = ("name", "phone", "household_id", "relation_to_head", "hukou_region_code",
                   "county_code", "township_code", "village_code", "residence_permit", "school",
                   "address")
_COLUMNS = ("id, id_number_hash, id_number_masked, name, birth_date, sex, phone, household_id, "
            "county_code, township_code, village_code, revision, relation_to_head, "
            "hukou_region_code, residence_permit, school, "
            f"(SELECT h.household_no FROM {S}.households h WHERE h.id = household_id), address")
# Lists filter on the caller's region in SQL (before any LIMIT): bind :rp to
# Principal.region_filter (None: every region). A person's region is the narrowest one they
# are registered in, as everywhere (persons.views.person_region).
REGION_FILTER = f"(CAST(:rp AS text) IS NULL OR {within_sql(narrowest_sql())})"
UPDATABLE = ("name", "phone", "household_id", "relation_to_head", "hukou_region_code",
             "county_code", "township_code", "village_code", "residence_permit", "school",
             "address")


class PersonRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def regions_by_hash(self, hashes: list[str]) -> list[tuple[str, uuid.UUID, str, str]]:
        """(ID number hash, id, name, narrowest region) of the people with these hashes."""
        result = await self.session.execute(text(
            f"SELECT id_number_hash, id, name, {narrowest_sql()}"
            f" FROM {S}.persons WHERE id_number_hash = ANY(:h)"), {"h": hashes})
        return [(r[0], r[1], r[2], r[3]) for r in result]

    async def by_hash(self, id_hashes: str | list[str]) -> PersonRow | None:
        """The person stored under any of `id_hashes` (`PiiVault.lookup_hashes`: one per key
        version, so people are found while their hashes are being rotated)."""
        hashes = [id_hashes] if isinstance(id_hashes, str) else id_hashes
        row = (await self.session.execute(
            text(f"SELECT {_COLUMNS} FROM {S}.persons WHERE id_number_hash = ANY(:h) LIMIT 1"),
            {"h": hashes})).first()
        return PersonRow(*row) if row else None

    async def names_by_hash(self, hashes: list[str]) -> dict[str, str]:
        rows = await self.session.execute(
            text(f"SELECT id_number_hash, name FROM {S}.persons "
                 "WHERE id_number_hash = ANY(:h)"), {"h": hashes})
        return {r[0]: r[1] for r in rows}

    async def ids_and_names_by_hash(self, hashes: list[str]) -> dict[str, tuple[uuid.UUID, str]]:
        rows = await self.session.execute(
            text(f"SELECT id_number_hash, id, name FROM {S}.persons "
                 "WHERE id_number_hash = ANY(:h)"), {"h": hashes})
        return {r[0]: (r[1], r[2]) for r in rows}

    async def ids_by_hash(self, hashes: list[str]) -> dict[str, uuid.UUID]:
        rows = await self.session.execute(
            text(f"SELECT id_number_hash, id FROM {S}.persons WHERE id_number_hash = ANY(:h)"),
            {"h": hashes})
        return {r[0]: r[1] for r in rows}

    async def get(self, person_id: uuid.UUID, *, for_update: bool = False) -> PersonRow | None:
        lock = " FOR UPDATE" if for_update else ""
        row = (await self.session.execute(
            text(f"SELECT {_COLUMNS} FROM {S}.persons WHERE id = :id{lock}"), {"id": person_id}
        )).first()
        return PersonRow(*row) if row else None

    async def encrypted_id_number(self, person_id: uuid.UUID) -> str | None:
        """The stored ciphertext of the person's ID number (open it with the PII vault)."""
        return (await self.session.execute(
            text(f"SELECT id_number_enc FROM {S}.persons WHERE id = :id"), {"id": person_id}
        )).scalar_one_or_none()

    async def regions(self, person_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        """Person id -> the narrowest region they are registered in (village, else township,
        else county)."""
        rows = await self.session.execute(
            text(f"SELECT id, {narrowest_sql()} "
                 f"FROM {S}.persons WHERE id = ANY(:ids)"), {"ids": person_ids})
        return {r[0]: r[1] for r in rows}

    async def in_village(self, village_code: str, name: str | None, after: str | None,
                         limit: int) -> list[PersonRow]:
        rows = await self.session.execute(
            text(f"""SELECT {_COLUMNS} FROM {S}.persons
                     WHERE village_code = :v AND (CAST(:n AS text) IS NULL OR name = :n)
                       AND (CAST(:after AS uuid) IS NULL OR id > CAST(:after AS uuid))
                     ORDER BY id LIMIT :lim"""),
            {"v": village_code, "n": name, "after": after, "lim": limit})
        return [PersonRow(*r) for r in rows]

    async def members(self, household_id: uuid.UUID, *,
                      region_prefix: str | None = None) -> list[PersonRow]:
        """`region_prefix` (Principal.region_filter): only members registered in that region."""
        rows = await self.session.execute(
            text(f"SELECT {_COLUMNS} FROM {S}.persons WHERE household_id = :h "
                 f"AND {REGION_FILTER} "
                 "ORDER BY (relation_to_head = '户主') DESC NULLS LAST, birth_date"),
            {"h": household_id, "rp": region_prefix})
        return [PersonRow(*r) for r in rows]

    async def household(self, household_id: uuid.UUID) -> tuple[str, uuid.UUID | None, str | None] | None:
        row = (await self.session.execute(
            text(f"SELECT household_no, head_person_id, village_code FROM {S}.households "
                 "WHERE id = :id"), {"id": household_id})).first()
        return (row[0], row[1], row[2]) if row else None

    async def household_id(self, household_no: str, village_code: str | None) -> uuid.UUID:
        household_id = household_id_of(household_no)
        await self.session.execute(
            text(f"""INSERT INTO {S}.households (id, household_no, village_code)
                     VALUES (:id, :no, :v) ON CONFLICT (household_no) DO NOTHING"""),
            {"id": household_id, "no": household_no, "v": village_code},
        )
        return household_id

    async def set_head(self, household_id: uuid.UUID, person_id: uuid.UUID) -> None:
        await self.session.execute(
            text(f"UPDATE {S}.households SET head_person_id = :p WHERE id = :h"),
            {"p": person_id, "h": household_id})

    async def insert(self, values: dict[str, Any]) -> None:
        await self.session.execute(
            text(f"""INSERT INTO {S}.persons (id, id_number_hash, id_number_enc, id_number_masked,
                       name, birth_date, sex, phone, household_id, relation_to_head,
                       hukou_region_code, county_code, township_code, village_code,
                       residence_permit, school, address)
                     VALUES (:id, :id_number_hash, :id_number_enc, :id_number_masked, :name,
                       :birth_date, :sex, :phone, :household_id, :relation_to_head,
                       :hukou_region_code, :county_code, :township_code, :village_code,
                       :residence_permit, :school, :address)"""),
            values,
        )

    async def update(self, person_id: uuid.UUID, changes: dict[str, Any]) -> int:
        sets = ", ".join(f"{k} = :{k}" for k in changes if k in UPDATABLE)
        return (await self.session.execute(
            text(f"UPDATE {S}.persons SET {sets}, revision = revision + 1, updated_at = now() "
                 "WHERE id = :id RETURNING revision"), {**changes, "id": person_id})).scalar_one()

    async def record_history(self, person_id: uuid.UUID, revision: int, snapshot: dict[str, Any]) -> None:
        await self.session.execute(
            text(f"""INSERT INTO {S}.person_history (person_id, revision, snapshot)
                     VALUES (:p, :r, CAST(:s AS jsonb))"""),
            {"p": person_id, "r": revision, "s": orjson.dumps(snapshot, default=str).decode()},
        )

    async def history(self, person_id: uuid.UUID) -> list[tuple[int, dt.datetime, dict[str, Any]]]:
        rows = await self.session.execute(
            text(f"SELECT revision, changed_at, snapshot FROM {S}.person_history "
                 "WHERE person_id = :p ORDER BY revision"), {"p": person_id})
        return [(r[0], r[1], r[2]) for r in rows]
