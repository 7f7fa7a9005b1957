"""Region scopes on what staff act on in payments: a caller limited to a county or township
may only act on people registered there (the region comes from registration's person events,
else from the person's latest determination)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kernels.regions.codes import narrowest_sql, within_sql
from shared.auth import Principal
from shared.errors import Forbidden

_REGIONS = text(f"""
    SELECT x.pid, coalesce({narrowest_sql('p')}, {narrowest_sql('d', 'region_code')})
    FROM unnest(CAST(:ids AS uuid[])) AS x(pid)
    LEFT JOIN payments.persons p ON p.person_id = x.pid
    LEFT JOIN LATERAL (SELECT village_code, township_code, county_code, region_code
                       FROM payments.dues WHERE person_id = x.pid
                       ORDER BY plan_year DESC LIMIT 1) d ON true""")


def visible_person_sql(person: str) -> str:
    """A WHERE condition for lists: the person `person` lies in the region bound to :rp
    (Principal.region_filter; NULL: every region). `person` is an SQL uuid expression: qualify
    columns with their table (payments.refunds.person_id), or the subqueries take their own.
    The region is found as above; persons payments knows nothing about, and NULL, pass."""
    region = f"""coalesce(
        (SELECT {narrowest_sql('p')} FROM payments.persons p WHERE p.person_id = {person}),
        (SELECT {narrowest_sql('d', 'region_code')}
         FROM payments.dues d WHERE d.person_id = {person}
         ORDER BY d.plan_year DESC LIMIT 1),
        :rp)"""
    return f"(CAST(:rp AS text) IS NULL OR {within_sql(region)})"


async def person_regions(session: AsyncSession, person_ids: Iterable[uuid.UUID | None],
                         ) -> dict[uuid.UUID, str | None]:
    """The region of each person (found as above); None for persons payments knows nothing
    about."""
    ids = sorted({p for p in person_ids if p is not None})
    if not ids:
        return {}
    return {pid: region for pid, region in (await session.execute(_REGIONS, {"ids": ids})).all()}


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
