from __future__ import annotations

import uuid
from dataclasses import dataclass
import datetime as dt
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.idnumber import mask_name

S = "registration"


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

    @property
    def name_masked(self) -> str:
        return mask_name(self.name)


_COLUMNS = ("id, id_number_hash, id_number_masked, name, birth_date, sex, phone, household_id, "
            "county_code, township_code, village_code, revision")


class PersonRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_hash(self, id_hash: str) -> PersonRow | None:
        row = (await self.session.execute(
            text(f"SELECT {_COLUMNS} FROM {S}.persons WHERE id_number_hash = :h"), {"h": id_hash}
        )).first()
        return PersonRow(*row) if row else None

    async def get(self, person_id: uuid.UUID, *, for_update: bool = False) -> PersonRow | None:
        lock = " FOR UPDATE" if for_update else ""
        row = (await self.session.execute(
            text(f"SELECT {_COLUMNS} FROM {S}.persons WHERE id = :id{lock}"), {"id": person_id}
        )).first()
        return PersonRow(*row) if row else None

    async def household_id(self, household_no: str, village_code: str | None) -> uuid.UUID:
        row = (await self.session.execute(
            text(f"""INSERT INTO {S}.households (id, household_no, village_code)
                     VALUES (:id, :no, :v)
                     ON CONFLICT (household_no) DO UPDATE SET household_no = EXCLUDED.household_no
                     RETURNING id"""),
            {"id": uuid.uuid4(), "no": household_no, "v": village_code},
        )).scalar_one()
        return row

    async def insert(self, values: dict[str, Any]) -> None:
        await self.session.execute(
            text(f"""INSERT INTO {S}.persons (id, id_number_hash, id_number_enc, id_number_masked,
                       name, birth_date, sex, phone, household_id, relation_to_head,
                       hukou_region_code, county_code, township_code, village_code,
                       residence_permit, school)
                     VALUES (:id, :id_number_hash, :id_number_enc, :id_number_masked, :name,
                       :birth_date, :sex, :phone, :household_id, :relation_to_head,
                       :hukou_region_code, :county_code, :township_code, :village_code,
                       :residence_permit, :school)"""),
            values,
        )

    async def record_history(self, person_id: uuid.UUID, revision: int, snapshot: dict[str, Any]) -> None:
        await self.session.execute(
            text(f"""INSERT INTO {S}.person_history (person_id, revision, snapshot)
                     VALUES (:p, :r, CAST(:s AS jsonb))"""),
            {"p": person_id, "r": revision, "s": orjson.dumps(snapshot, default=str).decode()},
        )
