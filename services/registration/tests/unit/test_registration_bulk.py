from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from registration_helpers import LI, WANG, ZHANG, ZHAO, csv_bytes, new_id_number, xlsx_bytes

from kernels.regions import load_regions
from services.registration.uploads import (
    iter_reference_batches,
    iter_resident_batches,
    parse_newborn_list,
    parse_student_list,
    parse_township_population,
    parse_township_targets,
)

DATA = Path(__file__).parents[2] / "data"
RESIDENT_HEADER = ["姓名", "身份证号", "手机号", "户号", "与户主关系", "乡镇代码", "村代码"]


def test_shipped_tengzhou_2021_targets() -> None:
    content = (DATA / "targets-370481-2021.csv").read_bytes()
    parsed = parse_township_targets(content, county_code="370481")
    assert parsed.errors == []
    assert len(parsed.targets) == 21
    assert parsed.total == 1_487_341
    assert len({t.township_code for t in parsed.targets}) == 21
    by_name = {t.name: t for t in parsed.targets}
    assert by_name["荆河街道"].township_code == "370481001000"
    assert by_name["荆河街道"].target == 69773
    assert by_name["东郭镇"].target == 117742


def test_targets_by_name_with_total_row_and_errors() -> None:
    ok = csv_bytes(
        [
            ["镇街", "参保任务数（人）"],
            ["荆河街道", "69,773"],
            ["龙泉街道", "68513"],
            ["合计", "138286"],
        ],
        "gbk",
    )
    parsed = parse_township_targets(ok, county_code="370481")
    assert parsed.errors == [] and parsed.declared_total == 138286
    bad = csv_bytes(
        [
            ["乡镇", "任务数"],
            ["荆河街道", "10"],
            ["经济开发区", "5"],
            ["荆河街道", "3"],
            ["龙泉街道", "x"],
        ]
    )
    parsed = parse_township_targets(bad, county_code="370481")
    assert [(e.row_number, e.code) for e in parsed.errors] == [
        (3, "unknown_township"),
        (4, "duplicate_row"),
        (5, "bad_number"),
    ]
    mismatch = csv_bytes([["乡镇", "任务数"], ["荆河街道", "10"], ["合计", "11"]])
    assert parse_township_targets(mismatch, county_code="370481").errors[0].code == "total_mismatch"


def _resident_rows(count: int) -> list[list[str]]:
    rows = [RESIDENT_HEADER]
    for i in range(count):
        person = new_id_number(f"370481199001{(i % 28) + 1:02d}{i % 1000:03d}"[:17])
        rows.append(
            [
                f"居民{i}",
                person,
                "13800138000",
                f"H{i // 4}",
                "户主",
                "370481001000",
                "370481001001",
            ]
        )
    return rows


def test_resident_stream_in_batches_gbk_over_sniff_window() -> None:
    rows = [RESIDENT_HEADER]
    n = 0
    for day in range(1, 29):
        for seq in range(0, 120):
            rows.append(
                [
                    f"张{'三' * (n % 3 + 1)}",
                    new_id_number(f"37048119900{2}{day:02d}{seq:03d}"[:17]),
                    "",
                    "",
                    "",
                    "370481001000",
                    "",
                ]
            )
            n += 1
    content = csv_bytes(rows, "gbk")
    assert len(content) > 64 * 1024
    batches = list(iter_resident_batches(io.BytesIO(content), batch_size=1000))
    assert [len(b.rows) for b in batches] == [1000, 1000, 1000, 360]
    assert all(not b.errors for b in batches)
    assert batches[0].rows[0].row_number == 2
    assert batches[-1].rows[-1].name.startswith("张")


def test_resident_row_errors() -> None:
    content = csv_bytes(
        [
            RESIDENT_HEADER,
            ["张三", ZHANG, "13800138000", "H1", "户主", "370481001000", "370481001001"],
            ["张三", ZHANG, "", "H1", "户主", "370481001000", ""],  # duplicate
            ["李四", LI, "12345", "H1", "配偶", "370481001000", ""],  # bad phone
            ["王小明", WANG, "", "H1", "子", "370481001000", "370481002001"],  # village elsewhere
            ["赵六", ZHAO, "", "H2", "户主", "370124001000", ""],  # other county
            ["", new_id_number("37048119700101007"), "", "", "", "370481001", ""],  # no name
        ]
    )
    (batch,) = list(iter_resident_batches(content, regions=load_regions(), county_code="370481"))
    assert [r.id_number for r in batch.rows] == [ZHANG]
    assert batch.rows[0].village_code == "370481001001"
    assert [(e.row_number, e.code) for e in batch.errors] == [
        (3, "duplicate_row"),
        (4, "bad_phone"),
        (5, "bad_region_code"),
        (6, "bad_region_code"),
        (7, "missing_name"),
    ]


def test_resident_header_problem_and_mid_file_encoding_change() -> None:
    (only,) = list(iter_resident_batches(csv_bytes([["姓名", "籍贯"], ["张三", "1"]])))
    assert only.rows == [] and {e.code for e in only.errors} == {
        "missing_columns",
        "unexpected_columns",
    }
    rows = _resident_rows(1500)
    content = csv_bytes(rows) + "张三,".encode("gbk") + ZHANG.encode() + b",,,,370481001000,\r\n"
    assert len(content) > 64 * 1024
    batches = list(iter_resident_batches(io.BytesIO(content), batch_size=500))
    assert sum(len(b.rows) for b in batches) > 0
    assert batches[-1].errors and batches[-1].errors[-1].code == "undecodable"


def test_resident_xlsx() -> None:
    content = xlsx_bytes(
        [RESIDENT_HEADER, ["张三", ZHANG, 13800138000, "H1", "户主", 370481001000, None]]
    )
    (batch,) = list(iter_resident_batches(content, filename="r.xlsx"))
    assert batch.errors == []
    assert batch.rows[0].phone == "13800138000"
    assert batch.rows[0].township_code == "370481001000"


def test_students() -> None:
    content = csv_bytes(
        [
            ["学校", "姓名", "身份证号", "学籍号", "年级", "班级"],
            ["滕州一中", "王小明", WANG, "G1", "高一", "3班"],
            ["滕州一中", "王小明", WANG, "G2", "高一", "3班"],
            ["滕州一中", "王大明", new_id_number("37048120100705013"), "G1", "高一", "3班"],
        ],
        "gbk",
    )
    parsed = parse_student_list(content, name_of={WANG: "王晓明"}.get)
    assert parsed.rows == []
    assert [(e.row_number, e.code) for e in parsed.errors] == [
        (2, "name_mismatch"),
        (3, "duplicate_row"),
        (3, "name_mismatch"),
        (4, "duplicate_row"),
    ]
    fine = parse_student_list(
        csv_bytes(
            [
                ["学校名称", "学生姓名", "公民身份号码", "全国学籍号"],
                ["滕州一中", "王晓明", WANG, "G1"],
            ]
        ),
        name_of={WANG: "王晓明"}.get,
    )
    assert fine.errors == [] and fine.rows[0].school == "滕州一中"


def test_newborns() -> None:
    baby = new_id_number("37048120240301001")
    content = csv_bytes(
        [
            ["新生儿姓名", "身份证号", "出生日期", "性别", "父亲身份证号", "母亲身份证号", "户号"],
            ["张小宝", baby, "2024-03-01", "男", ZHANG, LI, "H1"],
            ["张二宝", "", "2024年5月6日", "女", ZHANG, "", "H1"],
            ["张三宝", baby, "2024-03-02", "", "", LI, "H1"],
            ["无名", "", "", "", "", "", ""],
            ["未来", "", "2099-01-01", "", ZHANG, "", ""],
        ]
    )
    parsed = parse_newborn_list(content, today=dt.date(2024, 10, 1))
    assert [(r.name, r.birth_date, r.sex) for r in parsed.rows] == [
        ("张小宝", dt.date(2024, 3, 1), "male"),
        ("张二宝", dt.date(2024, 5, 6), "female"),
    ]
    assert parsed.rows[0].mother_id == LI and parsed.rows[1].id_number is None
    assert [(e.row_number, e.code) for e in parsed.errors] == [
        (4, "duplicate_row"),
        (4, "birth_mismatch"),
        (5, "missing_birth_date"),
        (5, "missing_parent"),
        (6, "bad_date"),
    ]


def test_reference_lists() -> None:
    register = csv_bytes(
        [
            ["姓名", "身份证号", "户号", "与户主关系", "户籍状态", "变动日期"],
            ["张三", ZHANG, "H1", "户主", "正常", ""],
            ["李四", LI, "H1", "配偶", "迁出", "2023/5/1"],
            ["坏号", "123456", "H2", "户主", "正常", ""],
        ],
        "gbk",
    )
    batches = list(iter_reference_batches("household_register", register))
    rows = [r for b in batches for r in b.rows]
    assert [r.fields.get("status") for r in rows] == ["正常", "迁出"]
    assert rows[1].fields["changed_on"] == "2023-05-01"
    assert [e.code for b in batches for e in b.errors] == ["bad_id_number"]
    pension = csv_bytes(
        [["姓名", "身份证号", "养老保险类型", "待遇状态"], ["赵六", ZHAO, "职工", "正常领取"]]
    )
    (batch,) = list(iter_reference_batches("employee_pension", pension))
    assert batch.rows[0].fields == {"scheme": "职工", "status": "正常领取"}
    enrollees = xlsx_bytes(
        [["姓名", "身份证号", "单位名称", "参保状态"], ["李四", LI, "滕州某厂", "参保缴费"]]
    )
    (batch,) = list(iter_reference_batches("employee_insurance", enrollees, filename="e.xlsx"))
    assert batch.rows[0].id_number == LI
    population = csv_bytes(
        [
            ["乡镇", "户籍人口", "常住人口", "统计年度"],
            ["荆河街道", "70,000", "80000", "2023年"],
            ["合计", "70000", "", ""],
        ]
    )
    parsed = parse_township_population(population)
    assert parsed.errors == []
    assert (parsed.rows[0].registered, parsed.rows[0].resident, parsed.rows[0].year) == (
        70000,
        80000,
        2023,
    )
