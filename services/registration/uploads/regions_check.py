"""Checking township and village codes of uploaded rows against the division tree."""

from __future__ import annotations

from kernels.regions.codes import InvalidRegionCode, pad_code
from kernels.regions.tree import RegionTree


def check_township_village(
    township_text: str,
    village_text: str,
    regions: RegionTree | None,
    county_code: str | None,
) -> tuple[str, str, list[tuple[str, str]]]:
    """Return (township code, village code, [(key, message)]) for one row's codes.

    Codes are padded to 12 digits. Without a tree only the digits are checked (village
    under township by prefix); with one, the township must exist (under ``county_code``
    when given) and a village the tree knows must hang under that township.
    """
    problems: list[tuple[str, str]] = []
    township = village = ""
    if township_text:
        try:
            township = pad_code(township_text)
        except InvalidRegionCode:
            problems.append(("township_code", "乡镇代码应为9位或12位数字"))
    if village_text:
        try:
            village = pad_code(village_text)
            if len(village_text.strip()) != 12 or village[9:] == "000":
                problems.append(("village_code", "村代码应为12位数字（后三位不全为0）"))
        except InvalidRegionCode:
            problems.append(("village_code", "村代码应为12位数字"))
    if township and township[9:] != "000":
        problems.append(("township_code", "乡镇代码后三位应为000"))
    if township and village and not problems and village[:9] != township[:9]:
        problems.append(("village_code", "村代码不属于所填乡镇"))
    if village and not township and not problems:
        township = village[:9] + "000"
    if regions is not None and township and not problems:
        region = regions.get(township)
        if region is None or region.level != "township":
            problems.append(("township_code", "乡镇代码不存在"))
        elif county_code is not None:
            county = regions.county_of(township)
            if county is None or county.code != pad_code(county_code):
                problems.append(("township_code", "乡镇不属于本县（市、区）"))
        if village and not problems:
            known = regions.get(village)
            if known is not None and known.parent_code != township:
                problems.append(("village_code", "村代码不属于所填乡镇"))
            elif known is None and any(c.level == "village" for c in regions.children(township)):
                problems.append(("village_code", "村代码不存在（该乡镇已登记的村中没有）"))
    return township, village, problems
