"""Who issues a region's printed publicity notice (公示表), and how to reach them: the issuing
unit, the supervision phone (监督电话) and the seal text, from configuration per region
(CANBAO_PUBLICITY_NOTICES). The narrowest configured region containing the list's applies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.principals import region_prefix


@dataclass(frozen=True)
class Notice:
    issuer: str = ""
    phone: str = ""
    seal: str = ""


def notice_for(configured: dict[str, dict[str, Any]], region_code: str) -> Notice:
    own = region_prefix(region_code) or ""
    best: tuple[int, dict[str, Any]] | None = None
    for code, values in configured.items():
        prefix = region_prefix(code)
        if prefix is None or not own.startswith(prefix):
            continue
        if best is None or len(prefix) > best[0]:
            best = (len(prefix), values)
    if best is None:
        return Notice()
    values = best[1]
    return Notice(issuer=str(values.get("issuer") or ""), phone=str(values.get("phone") or ""),
                  seal=str(values.get("seal") or values.get("issuer") or ""))
