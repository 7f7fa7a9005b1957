"""Which department certifies which group, per region.

The national table (DOMAIN.md, `DEFAULT_CERTIFIABLE`) holds unless a region's plan assigns a
group to another department; then the region's entry below replaces the named departments'
sets (each with the plan's own sentence). One group is certified by one department in a region,
so that a membership is recorded for exactly one department.

A region is looked up by its county, then its city, then its province; nationwide callers and
regions without an entry use the national table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.registration.uploads.categories import DEFAULT_CERTIFIABLE, certifiable_by


@dataclass(frozen=True)
class RegionalCertifiers:
    region: str
    source: str
    certifies: Mapping[str, frozenset[str]]


REGIONAL: dict[str, RegionalCertifiers] = {
    "370827": RegionalCertifiers(
        region="370827",
        source=("鱼台县2024年度居民医保实施方案 八(五)：民政部门负责确定城乡居民特困、低保、孤儿"
                "人员名单；乡村振兴部门负责认定低保边缘家庭成员、防止返贫监测帮扶对象等易返贫致贫"
                "人口（脱贫不稳定户、边缘易致贫户、突发严重困难户）、返贫致贫人口人员名单"),
        certifies={
            "civil_affairs": DEFAULT_CERTIFIABLE["civil_affairs"] - {"low_income_margin"},
            "rural_revitalization": DEFAULT_CERTIFIABLE["rural_revitalization"]
            | {"low_income_margin"},
        },
    ),
}


def regional_certifiers(region: str | None) -> RegionalCertifiers | None:
    """The entry for `region` (its county, city or province), or None: the national table."""
    if not region or len(region) < 6 or region[:6] == "000000":
        return None
    for key in (region[:6], region[:4] + "00", region[:2] + "0000"):
        if key in REGIONAL:
            return REGIONAL[key]
    return None


def certifiable_in(region: str | None, department: str) -> frozenset[str]:
    """The groups `department` certifies in `region`."""
    entry = regional_certifiers(region)
    return certifiable_by(department, entry.certifies if entry else None)


def anywhere(department: str) -> dict[str, frozenset[str]]:
    """The groups `department` certifies in some region (a first, permissive pass over a file
    whose rows are then checked each against its person's region)."""
    groups = set(certifiable_by(department))
    for entry in REGIONAL.values():
        groups |= entry.certifies.get(department, frozenset())
    return {department: frozenset(groups)}
