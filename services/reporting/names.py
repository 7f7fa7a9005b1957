"""Division names for display, from registration's shipped division tree (read-only).

Villages are uploaded per county into registration and never travel in events, so a village
is shown by its code unless the tree knows it.
"""

from __future__ import annotations

from functools import lru_cache

from services.registration.regions import load_regions


@lru_cache(maxsize=1)
def _tree():  # type: ignore[no-untyped-def]
    return load_regions()


@lru_cache(maxsize=65536)
def region_name(code: str) -> str:
    if not code:
        return "(未分村)"
    try:
        region = _tree().get(code)
    except Exception:  # a malformed code is shown as is
        region = None
    return region.name if region is not None else code
