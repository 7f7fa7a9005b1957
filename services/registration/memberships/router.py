"""Group memberships one at a time (certified name lists arrive in bulk through uploads)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from services.registration.memberships.service import MembershipService
from shared.codes import GROUP_CODES
from shared.db import SessionDep

router = APIRouter(prefix="/v1/persons/{person_id}/groups", tags=["group memberships"])

GroupCode = Literal[GROUP_CODES]  # type: ignore[valid-type]


class MembershipCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_code: GroupCode
    certified_on: dt.date | None = None
    ends_on: dt.date | None = None
    later_birth_on: dt.date | None = None
    department: str | None = Field(None, max_length=64)


class MembershipPublic(BaseModel):
    person_id: uuid.UUID
    group_code: str
    certified_on: dt.date | None
    ends_on: dt.date | None
    later_birth_on: dt.date | None


@router.put("", status_code=status.HTTP_200_OK, response_model=MembershipPublic)
async def certify(person_id: uuid.UUID, body: MembershipCreate, request: Request,
                  session: SessionDep) -> MembershipPublic:
    async with session.begin():
        await MembershipService(session, request.app.state.runtime.outbox).put(person_id, body)
    return MembershipPublic(person_id=person_id, **body.model_dump(exclude={"department"}))


@router.delete("/{group_code}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke(person_id: uuid.UUID, group_code: GroupCode, request: Request,
                 session: SessionDep) -> None:
    async with session.begin():
        await MembershipService(session, request.app.state.runtime.outbox).remove(person_id, group_code)
