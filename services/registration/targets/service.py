"""Setting township targets one at a time or from the plan's annex table."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.registration import events
from services.registration.targets.repository import put_targets
from services.registration.uploads import ParsedTargets, parse_township_targets
from shared.outbox import Outbox


async def set_targets(session: AsyncSession | AsyncConnection, outbox: Outbox, plan_year: int,
                      targets: list[tuple[str, int]]) -> None:
    """Upsert (township_code, target) pairs with one target_set event each."""
    await put_targets(session, plan_year, targets)
    await outbox.add_many(session, [
        events.TargetSet(plan_year=plan_year, township_code=t, county_code=t[:6], target=n)
        for t, n in targets])


def county_in(content: bytes) -> str | None:
    """The county of the first 12-digit township code in a targets file, if it has codes."""
    import re

    for encoding in ("utf-8-sig", "gb18030"):
        try:
            match = re.search(r"\b(\d{6})\d{3}000\b", content.decode(encoding))
        except UnicodeDecodeError:
            continue
        return match.group(1) if match else None
    return None


def parse_targets(content: bytes, county_code: str | None, filename: str | None) -> ParsedTargets:
    county = county_code or county_in(content) or ""
    return parse_township_targets(content, county_code=county or "000000", filename=filename)
