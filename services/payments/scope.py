"""Region scopes on what staff act on in payments: a caller limited to a county or township
may only act on people registered there (the region comes from registration's person events,
else from the person's latest determination: DueRepository.regions_of)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from services.payments.dues.repository import DueRepository, visible_person_sql
from shared.auth import Principal
from shared.errors import Forbidden

__all__ = ["person_regions", "require_persons_in_region", "visible_person_sql"]


async def person_regions(session: AsyncSession, person_ids: Iterable[uuid.UUID | None],
                         ) -> dict[uuid.UUID, str | None]:
    """The region of each person (found as above); None for persons payments knows nothing
    about."""
    ids = sorted({p for p in person_ids if p is not None})
    if not ids:
        return {}
    return await DueRepository(session).regions_of(ids)


async def require_persons_in_region(session: AsyncSession, principal: Principal,
                                    person_ids: Iterable[uuid.UUID | None]) -> None:
    """403 forbidden_region when any of these persons is registered outside the caller's
    region. Persons payments knows nothing about pass: what follows refuses them anyway."""
    if principal.sees_all_regions:
        return
    regions = await person_regions(session, person_ids)
    outside = [str(pid) for pid, region in regions.items()
               if region is not None and not principal.can_see_region(region)]
    if outside:
        raise Forbidden(f"{len(outside)} person(s) are registered outside your region "
                        f"{principal.region}", code="forbidden_region",
                        details={"person_ids": outside[:100]})
