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


# --- a person's region and a caller's scope ---------------------------------------------------
# One rule everywhere: a person (an enrollment, a determination, a due...) lies in the narrowest
# region recorded for them, the village, else the township, else the county (else a wider
# code such as a determination's plan region); a caller's scope holds a code when the code's
# digits start with the scope's prefix (`region_prefix`).

NATIONAL = "000000"
_REGION = re.compile(r"[0-9]{6}|[0-9]{12}")


def narrowest(village_code: str | None, township_code: str | None, county_code: str | None,
              *wider: str | None) -> str | None:
    """The narrowest region code given (empty text counts as none)."""
    for code in (village_code, township_code, county_code, *wider):
        if code:
            return code
    return None


def narrowest_sql(alias: str = "", *wider: str, empty_as_null: bool = False) -> str:
    """`narrowest` in SQL over a row's village_code, township_code, county_code (and the
    `wider` columns after them): `coalesce(p.village_code, p.township_code, p.county_code)`.
    `empty_as_null`: for tables that store an unknown code as ''."""
    a = f"{alias}." if alias else ""
    columns = [f"{a}{c}" for c in ("village_code", "township_code", "county_code", *wider)]
    if empty_as_null:
        columns = [f"nullif({c}, '')" for c in columns]
    return f"coalesce({', '.join(columns)})"


def region_prefix(code: str) -> str | None:
    """The digits every code inside `code` starts with; None when `code` is not a region code.

    370000 -> "37", 370400 -> "3704", 370481 -> "370481", 370481000000 -> "370481",
    370481001000 -> "370481001", 370481001001 -> "370481001001", 000000 -> "" (everything).
    """
    if not isinstance(code, str) or not _REGION.fullmatch(code):
        return None
    if len(code) == 12:
        if code.endswith("000000"):
            return region_prefix(code[:6])
        return code[:9] if code.endswith("000") else code
    if code == NATIONAL:
        return ""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def lies_within(code: str | None, scope_prefix: str | None) -> bool:
    """Whether region `code` lies in the scope whose prefix (`region_prefix`) is given; a None
    scope prefix is every region, a code that is no region code lies nowhere."""
    if scope_prefix is None:
        return True
    target = region_prefix(code) if code is not None else None
    return target is not None and target.startswith(scope_prefix)


def within_sql(expression: str, param: str = "rp") -> str:
    """`lies_within` in SQL: `expression LIKE :rp || '%'` (the prefix's digits hold no LIKE
    wildcards); bind :param to the scope's prefix (Principal.region_filter)."""
    return f"{expression} LIKE :{param} || '%'"
