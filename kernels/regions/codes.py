"""Statistical division codes (统计用区划代码) and their levels.

A full code has 12 digits: 2 province, 2 city, 2 county, 3 township, 3 village.
GB/T 2260 publishes 6-digit codes for provinces, cities and counties and the
Ministry of Civil Affairs 9-digit codes for townships; both pad to 12 with zeros.
"""

from __future__ import annotations

import re

LEVELS: tuple[str, ...] = ("province", "city", "county", "township", "village")
LEVEL_NAMES: dict[int, str] = {i + 1: name for i, name in enumerate(LEVELS)}
LEVEL_RANK: dict[str, int] = {name: i + 1 for i, name in enumerate(LEVELS)}

_DIGITS = re.compile(r"^\d+$")


class InvalidRegionCode(ValueError):
    """The text is not a 6-, 9- or 12-digit division code."""


def pad_code(code: str) -> str:
    """'370481' -> '370481000000', '370481001' -> '370481001000'; 12 digits stay."""
    text = (code or "").strip()
    if not _DIGITS.match(text) or len(text) not in (6, 9, 12):
        raise InvalidRegionCode(f"a division code has 6, 9 or 12 digits, not {text!r}")
    return text.ljust(12, "0")


def short_code(code: str) -> str:
    """The code as officially published: 6 digits down to county, 9 for townships."""
    full = pad_code(code)
    if full[6:] == "000000":
        return full[:6]
    if full[9:] == "000":
        return full[:9]
    return full


def level_from_code(code: str) -> str:
    """The deepest level a code's digits reach; municipalities' skipped levels aside."""
    full = pad_code(code)
    if full[9:] != "000":
        return "village"
    if full[6:9] != "000":
        return "township"
    if full[4:6] != "00":
        return "county"
    if full[2:4] != "00":
        return "city"
    return "province"


def is_under(code: str, ancestor: str) -> bool:
    """Whether ``code``'s digits lie under ``ancestor`` (by prefix, not by the tree)."""
    full, anc = pad_code(code), pad_code(ancestor)
    prefix_len = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}[
        level_from_code(anc)
    ]
    return full != anc and full[:prefix_len] == anc[:prefix_len]
