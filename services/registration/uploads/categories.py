"""Certified groups: the Chinese names departments use, and who may certify what.

Canonical group codes are those of DOMAIN.md. Each department's default set follows
the seed plans; a region whose plan assigns a group differently passes its own mapping
(Yutai 2024, for example, has rural revitalization certify 低保边缘家庭成员).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from kernels.codes import GROUP_NAMES_ZH

# the codes and their Chinese names are kernels/codes.py's; GROUP_NAMES: the name written on lists
GROUP_NAMES = GROUP_NAMES_ZH

_ALIASES: dict[str, tuple[str, ...]] = {
    "extreme_poverty": (
        "特困人员",
        "特困",
        "特困供养人员",
        "特困供养",
        "城市特困人员",
        "农村特困人员",
        "分散供养特困人员",
        "集中供养特困人员",
        "五保户",
        "城市三无人员",
    ),
    "minimum_living_allowance": (
        "低保对象",
        "低保",
        "低保户",
        "低保人员",
        "城乡低保",
        "城市低保",
        "农村低保",
        "城市低保对象",
        "农村低保对象",
        "最低生活保障对象",
        "最低生活保障",
        "城乡低保对象",
    ),
    "low_income_margin": (
        "低保边缘家庭成员",
        "低保边缘",
        "低保边缘户",
        "低保边缘家庭",
        "低边",
        "低保边缘人员",
    ),
    "poverty_monitoring": (
        "防止返贫监测帮扶对象",
        "防止返贫监测对象",
        "防返贫监测对象",
        "监测对象",
        "监测帮扶对象",
        "易返贫致贫人口",
        "易返贫致贫人员",
        "脱贫不稳定户",
        "脱贫不稳定人口",
        "边缘易致贫户",
        "边缘易致贫人口",
        "突发严重困难户",
    ),
    "relapsed_poverty": ("返贫致贫人口", "返贫致贫人员", "返贫致贫", "返贫人口", "致贫人口"),
    "lifted_out_of_poverty": (
        "脱贫享受政策人口",
        "脱贫享受政策",
        "建档立卡脱贫享受政策人口",
        "脱贫人口",
        "建档立卡贫困人口",
        "即时帮扶人口",
        "脱贫户",
    ),
    "orphan": ("孤儿", "社会散居孤儿", "机构养育孤儿"),
    "unsupported_child": ("事实无人抚养儿童", "事实孤儿"),
    "child_in_difficulty": ("困境儿童", "重点困境儿童"),
    "severe_disability": (
        "重度残疾人",
        "重度残疾",
        "重残",
        "一级残疾",
        "二级残疾",
        "一二级残疾",
        "一、二级残疾人",
        "一级残疾人",
        "二级残疾人",
    ),
    "entitled_veteran": (
        "优抚对象",
        "抚恤定补优抚对象",
        "优抚人员",
        "重点优抚对象",
        "七至十级残疾军人",
        "残疾军人",
        "烈士军属",
        "烈属",
        "因公牺牲军人遗属",
        "病故军人遗属",
        "在乡老复员军人",
        "带病回乡退伍军人",
        "参战参试退役人员",
    ),
    "family_planning_household": (
        "农村独女户/双女户",
        "独女户/双女户",
        "农村独女户",
        "农村双女户",
        "独女户",
        "双女户",
        "农村一女户",
        "一女户",
        "农村独女户父母",
        "农村双女户父母",
        "独生子女伤亡病残家庭",
        "农村独女户/双女户/独生子女伤亡病残家庭",
        "独生子女伤残家庭",
        "独生子女死亡家庭",
        "计划生育特殊家庭",
        "计生特殊家庭",
        "农村一女、双女家庭",
        "农村一女双女户",
    ),
}

DEPARTMENTS: dict[str, str] = {
    "civil_affairs": "民政局",
    "rural_revitalization": "农业农村局/乡村振兴局",
    "disabled_persons_federation": "残联",
    "veterans_affairs": "退役军人事务局",
    "health_commission": "卫健局",
    "education": "教体局",
}
DEPARTMENT_ALIASES: dict[str, str] = {"agriculture": "rural_revitalization"}

DEFAULT_CERTIFIABLE: dict[str, frozenset[str]] = {
    "civil_affairs": frozenset(
        {
            "extreme_poverty",
            "minimum_living_allowance",
            "low_income_margin",
            "orphan",
            "unsupported_child",
            "child_in_difficulty",
        }
    ),
    "rural_revitalization": frozenset(
        {"poverty_monitoring", "relapsed_poverty", "lifted_out_of_poverty"}
    ),
    "disabled_persons_federation": frozenset({"severe_disability"}),
    "veterans_affairs": frozenset({"entitled_veteran"}),
    "health_commission": frozenset({"family_planning_household"}),
    "education": frozenset(),  # students are insured categories, not certified groups
}


def _normalise(text: str) -> str:
    value = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"[\s()（）]", "", value)


_LOOKUP: dict[str, str] = {}
for _code, _names in _ALIASES.items():
    _LOOKUP[_code] = _code
    for _name in _names:
        _LOOKUP[_normalise(_name)] = _code


def group_code_of(category: str) -> str | None:
    """'低保对象' / '城市低保' / 'minimum_living_allowance' -> 'minimum_living_allowance'."""
    return _LOOKUP.get(_normalise(category)) or _LOOKUP.get(_normalise(category).lower())


def canonical_department(department: str) -> str:
    key = DEPARTMENT_ALIASES.get(department, department)
    if key not in DEPARTMENTS:
        raise ValueError(f"unknown department {department!r}; one of {sorted(DEPARTMENTS)}")
    return key


def certifiable_by(
    department: str, overrides: Mapping[str, frozenset[str] | set[str]] | None = None
) -> frozenset[str]:
    """The group codes ``department`` may certify (overrides replace the default per key)."""
    key = canonical_department(department)
    if overrides is not None and key in overrides:
        return frozenset(overrides[key])
    return DEFAULT_CERTIFIABLE[key]


_GRADES = {"一": 1, "二": 2, "三": 3, "四": 4, "壹": 1, "贰": 2, "叁": 3, "肆": 4}
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}


def disability_grade(text: str) -> int | None:
    """'一级' / '1' / '1级' / '二级残疾' / 'II' -> 1-4; None when not a grade."""
    value = _normalise(text).lower()
    value = value.removesuffix("残疾").removesuffix("级")
    if value.isdigit() and 1 <= int(value) <= 4:
        return int(value)
    if value in _GRADES:
        return _GRADES[value]
    return _ROMAN.get(value)
