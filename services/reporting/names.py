"""Division names for display: villages as registration published them, the rest from the
shipped division tree (provinces to townships, read-only).

Villages are uploaded per county into registration, which publishes each one on
`registration.region.v1` (docs/EVENTS.md); reporting keeps them in `region_names`. A code
nobody has named yet is shown as the code.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from kernels.regions import load_regions
from services.reporting.projections.repository import village_names

NO_VILLAGE = "(未分村)"


@lru_cache(maxsize=1)
def _tree():  # type: ignore[no-untyped-def]
    return load_regions()


@lru_cache(maxsize=65536)
def region_name(code: str) -> str:
    """The shipped tree's name (provinces to townships), else the code."""
    if not code:
        return NO_VILLAGE
    if code == "000000":
        return "全国"
    try:
        region = _tree().get(code)
    except Exception:  # a malformed code is shown as is
        region = None
    return region.name if region is not None else code


def _is_village(code: str) -> bool:
    return len(code) == 12 and not code.endswith("000")


class Names(dict[str, str]):
    """code -> name for the codes a page shows; unknown codes read as themselves."""

    def __missing__(self, code: str) -> str:
        return region_name(code)


async def names_for(session: AsyncSession, codes: Iterable[str | None]) -> Names:
    """Names of `codes`: villages from the published uploads (one query), others from the
    tree."""
    wanted = {c for c in codes if c}
    villages = sorted(c for c in wanted if _is_village(c))
    out = Names({c: region_name(c) for c in wanted if not _is_village(c)})
    if villages:
        out.update(await village_names(session, villages))
    return out
