"""The one explicit table of the suite: for each upload route, a file that names a given person
or region, and the form fields it needs. An upload route without a recipe here fails the suite
(so a new one is not silently left out)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.security.routes import PLAN_YEAR, Side

TOWNSHIP_NAMES = {"370481001000": "荆河街道", "370481002000": "龙泉街道",
                  "370124001000": "榆山街道"}


@dataclass(frozen=True)
class Recipe:
    rows: Callable[[Side], list[list[str]]]     # the file, naming the side's person or region
    form: Callable[[Side], dict[str, str]] = lambda caller: {}  # noqa: E731
    names_person: bool = True                   # the file carries a name and an ID number


def _person_rows(header: list[str], tail: list[str]) -> Callable[[Side], list[list[str]]]:
    return lambda t: [["姓名", "身份证号", *header], [t.name, t.id_number, *tail]]


RECIPES: dict[str, Recipe] = {
    "POST /v1/lists/{department}/{plan_year}": Recipe(
        _person_rows(["类别", "认定日期"], ["低保对象", "2024-03-01"])),
    "POST /v1/students/upload": Recipe(
        lambda t: [["学校", "姓名", "身份证号", "学籍号"], ["安检学校", t.name, t.id_number, "G1"]],
        form=lambda c: {"plan_year": str(PLAN_YEAR), "township_code": c.township}),
    "POST /v1/targets/{plan_year}/upload": Recipe(
        lambda t: [["乡镇代码", "镇街", "参保任务数（人）"],
                   [t.township, TOWNSHIP_NAMES.get(t.township, "某镇"), "77"]],
        names_person=False),
    "POST /v1/regions/villages": Recipe(
        lambda t: [["村代码", "村名称", "所属乡镇代码"],
                   [t.township[:9] + "977", "越界村", t.township]],
        names_person=False),
    "POST /v1/reference/{kind=household_register}": Recipe(
        _person_rows(["户号", "村代码", "户籍状态"], ["H77", "{village}", "正常"])),
    "POST /v1/reference/{kind=employee_insurance}": Recipe(
        _person_rows(["单位名称", "参保状态"], ["某公司", "参保缴费"])),
    "POST /v1/reference/{kind=employee_pension}": Recipe(
        _person_rows(["养老保险类型", "待遇状态"], ["职工", "正常领取"])),
    "POST /v1/reference/{kind=township_population}": Recipe(
        lambda t: [["乡镇代码", "户籍人口", "统计年度"], [t.township, "1000", str(PLAN_YEAR - 1)]],
        names_person=False),
}


def rows_for(recipe: Recipe, target: Side) -> list[list[str]]:
    return [[cell.replace("{village}", target.village) for cell in row]
            for row in recipe.rows(target)]


def variants(method: str, path: str, path_enums: dict[str, list[str]]
             ) -> list[tuple[str, dict[str, str]]]:
    """The recipe keys of one upload route: one per value of an enumerated path parameter
    when the table splits the route by it (`/v1/reference/{kind=...}`; a value without a
    recipe is then reported missing), else the route itself."""
    for name, values in path_enums.items():
        keys = [(f"{method} " + path.replace("{" + name + "}", "{" + f"{name}={v}" + "}"),
                 {name: v}) for v in values]
        if any(key in RECIPES for key, _ in keys):
            return keys
    return [(f"{method} {path}", {})]
