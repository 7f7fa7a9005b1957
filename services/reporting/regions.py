"""The region a reporting read covers, one mechanism for every route.

Every reporting route takes its region from `RegionDep`: the narrowest of `village_code`,
`township_code` and `county_code` given in the query (county_code may be a province, a city or a
county: 370000, 140600, 370481), or, when none is given, the caller's own region (README,
Access: an omitted region means the caller's own region). A region outside the caller's answers
403 `forbidden_region` (what the README says of region codes in queries; the access rules check
the same codes before the route runs). Codes that contradict each other (a township outside the
county given) answer 422 naming the field.

Queries filter on the region in SQL with `Region.where(...)`: equality on the county, township
and village columns, or a range on the county code for a city or province, so the counters'
primary keys serve them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request

from kernels.regions.codes import lies_within
from shared.auth import NATIONAL, current_principal, region_prefix, require_region
from shared.errors import Invalid

Rank = Literal["nation", "province", "city", "county", "township", "village"]
RANKS: tuple[Rank, ...] = ("nation", "province", "city", "county", "township", "village")
RANK_NAMES_ZH = {"nation": "全国", "province": "省", "city": "市", "county": "县（市、区）",
                 "township": "镇（街道）", "village": "村（社区）"}


@dataclass(frozen=True)
class Region:
    code: str  # 6 digits (nation, province, city, county) or 12 (township, village)
    rank: Rank

    @classmethod
    def of(cls, code: str) -> Region:
        prefix = region_prefix(code)
        if prefix is None:
            raise Invalid(f"{code!r} 不是6位或12位行政区划代码", field="region_code",
                          code="invalid_region_code", params={"code": code})
        if prefix == "":
            return cls(NATIONAL, "nation")
        if len(prefix) == 2:
            return cls(prefix + "0000", "province")
        if len(prefix) == 4:
            return cls(prefix + "00", "city")
        if len(prefix) == 6:
            return cls(prefix, "county")
        if len(prefix) == 9:
            return cls(prefix + "000", "township")
        return cls(prefix, "village")

    @property
    def prefix(self) -> str:
        return region_prefix(self.code) or ""

    @property
    def county_code(self) -> str | None:
        return self.code[:6] if self.rank in ("county", "township", "village") else None

    @property
    def township_code(self) -> str | None:
        return self.code[:9] + "000" if self.rank in ("township", "village") else None

    @property
    def village_code(self) -> str | None:
        return self.code if self.rank == "village" else None

    @property
    def child_rank(self) -> Rank:
        return RANKS[min(RANKS.index(self.rank) + 1, len(RANKS) - 1)]

    def contains(self, code: str) -> bool:
        return lies_within(code, self.prefix)

    def where(self, alias: str = "", *, village: bool = True) -> tuple[str, dict[str, Any]]:
        """SQL condition (and its parameters) for rows of this region in a table with
        county_code, township_code (and village_code unless `village` is False) columns.
        A village region on a table without villages narrows to its township."""
        a = f"{alias}." if alias else ""
        if self.rank == "nation":
            return "TRUE", {}
        if self.rank in ("province", "city"):
            low, high = _range(self.prefix)
            sql = f"{a}county_code >= :region_low"
            params: dict[str, Any] = {"region_low": low}
            if high is not None:
                sql += f" AND {a}county_code < :region_high"
                params["region_high"] = high
            return sql, params
        sql, params = f"{a}county_code = :region_county", {"region_county": self.county_code}
        if self.rank in ("township", "village"):
            sql += f" AND {a}township_code = :region_township"
            params["region_township"] = self.township_code
        if self.rank == "village" and village:
            sql += f" AND {a}village_code = :region_village"
            params["region_village"] = self.village_code
        return sql, params


def _range(prefix: str) -> tuple[str, str | None]:
    """Codes starting with `prefix` are those >= prefix and < the next prefix of the same
    length (digits only, so every collation orders them digit by digit); none above 99…"""
    nxt = str(int(prefix) + 1).zfill(len(prefix))
    return prefix, (nxt if len(nxt) == len(prefix) else None)


def resolve(principal: Any, county_code: str | None, township_code: str | None,
            village_code: str | None) -> Region:
    """The region a read covers: the narrowest code given, else the caller's own region."""
    given = [(name, code) for name, code in (("village_code", village_code),
                                             ("township_code", township_code),
                                             ("county_code", county_code)) if code]
    for (name, code), (_, wider) in zip(given, given[1:], strict=False):
        if not Region.of(wider).contains(code):
            raise Invalid(f"{name} {code} 不在 {wider} 范围内", field=name,
                          code="region_mismatch", params={"code": code, "wider": wider})
    if given:
        name, code = given[0]
        if name == "village_code" and (code.endswith("000") or len(code) != 12):
            raise Invalid(f"village_code {code} 不是村（社区）代码", field=name,
                          code="invalid_region_code", key="not_a_village",
                          params={"code": code})
        if name == "township_code" and Region.of(code).rank != "township":
            raise Invalid(f"township_code {code} 不是镇（街道）代码", field=name,
                          code="invalid_region_code", key="not_a_township",
                          params={"code": code})
        require_region(principal, code)
        return Region.of(code)
    own = getattr(principal, "region", None)
    return Region.of(own) if own else Region(NATIONAL, "nation")


async def region_scope(
    request: Request,
    county_code: Annotated[str | None, Query(
        pattern=r"^\d{6}$",
        description="省、市或县（市、区）代码；省略时为调用者本人的辖区")] = None,
    township_code: Annotated[str | None, Query(
        pattern=r"^\d{12}$", description="镇（街道）代码")] = None,
    village_code: Annotated[str | None, Query(
        pattern=r"^\d{12}$", description="村（社区）代码")] = None,
) -> Region:
    return resolve(current_principal(request), county_code, township_code, village_code)


RegionDep = Annotated[Region, Depends(region_scope)]


def require_named_region(region: Region) -> Region:
    """Name lists (publicity, reminders, funding persons) are per region, never nationwide: a
    nationwide caller names the province, city, county, township or village."""
    if region.rank == "nation":
        raise Invalid("名单须指定区域：请给出 county_code、township_code 或 village_code",
                      field="county_code", code="region_required")
    return region


async def named_region_scope(region: RegionDep) -> Region:
    return require_named_region(region)


NamedRegionDep = Annotated[Region, Depends(named_region_scope)]
