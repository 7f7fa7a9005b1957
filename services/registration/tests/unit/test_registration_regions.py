from __future__ import annotations

import csv
from pathlib import Path

import pytest
from registration_helpers import csv_bytes

from kernels.regions import Region, RegionTree, level_from_code, load_regions, pad_code, short_code
from services.registration.regions import parse_village_upload

SEED_001_TOWNS = (
    "鲍沟镇 滨湖镇 柴胡店镇 东郭镇 大坞镇 官桥镇 洪绪镇 界河镇 级索镇 姜屯镇 龙阳镇 木石镇 "
    "南沙河镇 西岗镇 羊庄镇 张汪镇 北辛街道 东沙河街道 荆河街道 龙泉街道 善南街道"
).split()


@pytest.fixture(scope="module")
def tree() -> RegionTree:
    return load_regions()


def test_codes() -> None:
    assert pad_code("370481") == "370481000000"
    assert pad_code("370481001") == "370481001000"
    assert short_code("370481001000") == "370481001"
    assert short_code("370481000000") == "370481"
    assert level_from_code("370481001000") == "township"
    assert level_from_code("370481001201") == "village"
    assert level_from_code("140600") == "city"
    with pytest.raises(ValueError):
        pad_code("3704")


def test_seed_counties_and_parents(tree: RegionTree) -> None:
    for code, name, city, province in [
        ("370481", "滕州市", "枣庄市", "山东省"),
        ("370124", "平阴县", "济南市", "山东省"),
        ("370827", "鱼台县", "济宁市", "山东省"),
    ]:
        county = tree[code]
        assert county.name == name and county.level == "county"
        assert [r.name for r in tree.ancestors(code)] == [province, city]
    shuozhou = tree["140600"]
    assert shuozhou.level == "city" and shuozhou.name == "朔州市"
    names = {r.name for r in tree.children("140600")}
    assert {"朔城区", "平鲁区", "山阴县", "应县", "右玉县", "怀仁市"} <= names


def test_tengzhou_townships_match_seed_001(tree: RegionTree) -> None:
    towns = tree.children("370481")
    assert len(towns) == 21
    assert {t.name for t in towns} == set(SEED_001_TOWNS)
    assert tree["370481001000"].name == "荆河街道"
    assert all(t.level == "township" and t.code.startswith("370481") for t in towns)


def test_pingyin_and_yutai_townships(tree: RegionTree) -> None:
    assert {
        "榆山街道",
        "锦水街道",
        "东阿镇",
        "孝直镇",
        "孔村镇",
        "洪范池镇",
        "玫瑰镇",
        "安城镇",
    } == {t.name for t in tree.children("370124")}
    yutai = {t.name for t in tree.children("370827")}
    assert {"谷亭街道", "滨湖街道", "清河镇", "王鲁镇", "唐马镇"} <= yutai


def test_queries(tree: RegionTree) -> None:
    assert tree.county_of("370481001000").code == "370481000000"  # type: ignore[union-attr]
    assert tree.township_of("370481001000").name == "荆河街道"  # type: ignore[union-attr]
    assert tree.township_of("370481") is None
    assert tree.county_of("370400") is None
    assert tree.get("999999") is None and tree.get("abc") is None
    assert tree.path_name("370481001") == "山东省枣庄市滕州市荆河街道"
    assert tree.find_child("370481", "荆河") == tree["370481001"]
    assert tree.find_child("370481", "370481001000") == tree["370481001"]
    assert len(tree.descendants("370400", level="township")) > 21
    with pytest.raises(KeyError):
        tree.children("990000")


def test_municipality_skips_city_level(tree: RegionTree) -> None:
    county = tree.children("110000")[0]
    assert county.level == "county"
    assert tree.county_of(county.code) == county


def test_shipped_csv_has_header_and_unique_codes() -> None:
    from kernels.regions.tree import DEFAULT_PATH as path
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line[:1] != "#"]
    rows = list(csv.DictReader(lines))
    assert len({r["code"] for r in rows}) == len(rows) > 40000
    assert all(len(r["code"]) == 12 for r in rows)


def test_load_regions_from_path(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "code,parent_code,level,name\n370000000000,,province,山东省\n"
        "370481000000,370000000000,county,滕州市\n370481001000,370481000000,township,荆河街道\n",
        encoding="utf-8",
    )
    tree = load_regions(path)
    assert [r.name for r in tree.ancestors("370481001")] == ["山东省", "滕州市"]


def test_village_upload(tree: RegionTree) -> None:
    content = csv_bytes(
        [
            ["村代码", "村名称", "所属乡镇代码"],
            ["370481001001", "甲村", "370481001000"],
            ["370481001002", "乙社区", "370481001"],
            ["370481002003", "错村", "370481001000"],  # not under its township
            ["37048100100", "短码", "370481001000"],  # 11 digits
            ["370481001001", "重复", "370481001000"],  # duplicate
            ["370481999001", "无乡镇", "370481999000"],  # township does not exist
        ],
        "gbk",
    )
    upload = parse_village_upload(content, tree)
    assert [v.region.name for v in upload.villages] == ["甲村", "乙社区"]
    codes = [(e.row_number, e.code) for e in upload.errors]
    assert codes == [
        (4, "not_under_parent"),
        (5, "bad_code"),
        (6, "duplicate_row"),
        (7, "unknown_township"),
    ]
    clean = parse_village_upload(
        csv_bytes([["code", "name", "township_code"], ["370481001001", "甲村", "370481001000"]]),
        tree,
        county_code="370481",
    )
    extended = clean.apply(tree)
    assert extended.township_of("370481001001").name == "荆河街道"  # type: ignore[union-attr]
    assert extended.county_of("370481001001").name == "滕州市"  # type: ignore[union-attr]
    assert "370481001001" not in tree
    other_county = parse_village_upload(
        csv_bytes(
            [["村代码", "村名称", "所属乡镇代码"], ["370124001001", "外县村", "370124001000"]]
        ),
        tree,
        county_code="370481",
    )
    assert [e.code for e in other_county.errors] == ["wrong_county"]


def test_region_tree_rejects_duplicates() -> None:
    region = Region("370000000000", None, "province", "山东省")
    with pytest.raises(ValueError):
        RegionTree([region, region])
