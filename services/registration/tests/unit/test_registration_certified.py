from __future__ import annotations

import codecs
import datetime as dt
import io
from collections.abc import Callable

import pytest
from openpyxl import load_workbook
from registration_helpers import LI, WANG, ZHANG, ZHAO, csv_bytes, new_id_number, xlsx_bytes

from services.registration.uploads import (
    group_code_of,
    parse_certified_list,
    write_error_report_csv,
    write_error_report_xlsx,
)
from services.registration.uploads.categories import certifiable_by, disability_grade
from services.registration.uploads.decoding import decode_bytes
from services.registration.uploads.errors import UploadRejected
from shared.idnumber import mask_id_number

NameOf = Callable[[str], "str | None"]
HEADER = ["姓名", "身份证号", "类别", "认定日期"]


def codes(parsed) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    return [(e.row_number, e.code) for e in parsed.errors]


def test_gbk_csv(name_of: NameOf) -> None:
    content = csv_bytes(
        [HEADER, ["张三", ZHANG, "低保对象", "2020年3月5日"], ["李四", LI, "特困人员", "2019/1/2"]],
        "gbk",
    )
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    parsed = parse_certified_list(content, department="civil_affairs", name_of=name_of)
    assert parsed.errors == []
    assert [(r.id_number, r.group_code, r.certified_on) for r in parsed.rows] == [
        (ZHANG, "minimum_living_allowance", dt.date(2020, 3, 5)),
        (LI, "extreme_poverty", dt.date(2019, 1, 2)),
    ]
    assert len(parsed.content_sha256) == 64


def test_utf8_bom_csv_with_public_security_header(name_of: NameOf) -> None:
    content = codecs.BOM_UTF8 + csv_bytes(
        [
            ["序号", "姓名", "公民身份号码", "人员类别", "乡镇", "村"],
            ["1", "张三", ZHANG, "城市低保", "荆河街道", "甲村"],
        ]
    )
    parsed = parse_certified_list(content, department="civil_affairs", name_of=name_of)
    assert parsed.errors == []
    row = parsed.rows[0]
    assert row.name == "张三" and row.group_code == "minimum_living_allowance"
    assert row.extra == {"township": "荆河街道", "village": "甲村"}


def test_xlsx_with_title_row_and_excel_dates(name_of: NameOf) -> None:
    content = xlsx_bytes(
        [
            ["序号", "姓名", "身份证号", "类别", "残疾等级", "认定日期", "终止日期"],
            [1, "张三", ZHANG, "重度残疾人", "一级", dt.datetime(2021, 6, 1), None],
            [2, "李四", LI, "重度残疾人", 2, "2021-06-01", "2025-12-31"],
            [3, "赵六", ZHAO, "重度残疾人", "三级", "2021-06-01", None],
            [4, "王小明", WANG, "重度残疾人", None, None, None],
        ],
        title_row="2021年度重度残疾人名单",
    )
    parsed = parse_certified_list(
        content, department="disabled_persons_federation", name_of=name_of, filename="list.xlsx"
    )
    assert [r.id_number for r in parsed.rows] == [ZHANG, LI]
    assert parsed.rows[0].certified_on == dt.date(2021, 6, 1)
    assert parsed.rows[1].ends_on == dt.date(2025, 12, 31)
    assert codes(parsed) == [(5, "bad_disability_grade"), (6, "bad_disability_grade")]
    assert parsed.errors[0].column == "残疾等级"


def test_missing_and_extra_columns_are_file_level(name_of: NameOf) -> None:
    content = csv_bytes([["姓名", "类别", "籍贯", "爱好"], ["张三", "低保", "山东", "书"]])
    parsed = parse_certified_list(content, department="civil_affairs", name_of=name_of)
    assert parsed.rows == []
    assert {e.code for e in parsed.errors} == {"missing_columns", "unexpected_columns"}
    assert all(e.is_file_level for e in parsed.errors)
    missing = next(e for e in parsed.errors if e.code == "missing_columns")
    assert "身份证号" in missing.message
    extra = next(e for e in parsed.errors if e.code == "unexpected_columns")
    assert "籍贯" in extra.message and "爱好" in extra.message


def test_extra_columns_allowed_when_asked(name_of: NameOf) -> None:
    content = csv_bytes([["姓名", "身份证号", "类别", "籍贯"], ["张三", ZHANG, "低保", "山东"]])
    parsed = parse_certified_list(
        content, department="civil_affairs", name_of=name_of, allow_extra_columns=True
    )
    assert parsed.errors == [] and parsed.rows[0].extra == {"籍贯": "山东"}


def test_missing_category_column_uses_default(name_of: NameOf) -> None:
    content = csv_bytes([["姓名", "身份证号"], ["张三", ZHANG]])
    without = parse_certified_list(content, department="civil_affairs", name_of=name_of)
    assert [e.code for e in without.errors] == ["missing_columns"]
    withdefault = parse_certified_list(
        content, department="civil_affairs", name_of=name_of, default_category="孤儿"
    )
    assert withdefault.rows[0].group_code == "orphan"


def test_row_errors(name_of: NameOf) -> None:
    bad_check = ZHANG[:17] + ("0" if ZHANG[17] != "0" else "1")
    unknown = new_id_number("37048119900101005")
    content = csv_bytes(
        [
            HEADER,
            ["张三", ZHANG, "低保", ""],  # 2 ok
            ["李四", "370481850312002", "低保", ""],  # 3 15-digit
            ["李四", bad_check, "低保", ""],  # 4 check character
            ["张三", ZHANG, "低保对象", ""],  # 5 duplicate of row 2
            ["张三", ZHANG, "特困人员", ""],  # 6 same person, other group: fine
            ["李小四", LI, "低保", ""],  # 7 name mismatch
            ["钱七", unknown, "低保", ""],  # 8 not registered
            ["赵六", ZHAO, "外星人", ""],  # 9 unknown category
            ["赵六", ZHAO, "重度残疾人", ""],  # 10 not civil affairs'
            ["王小明", WANG, "孤儿", "2020-13-01"],  # 11 bad date
        ]
    )
    parsed = parse_certified_list(content, department="civil_affairs", name_of=name_of)
    assert [r.row_number for r in parsed.rows] == [2, 6]
    assert codes(parsed) == [
        (3, "bad_id_number"),
        (4, "bad_id_number"),
        (5, "duplicate_row"),
        (7, "name_mismatch"),
        (8, "person_not_registered"),
        (9, "unknown_category"),
        (10, "category_not_allowed"),
        (11, "bad_date"),
    ]
    by_row = {e.row_number: e for e in parsed.errors}
    assert "15" in by_row[3].message
    assert by_row[5].message.startswith("与第 2 行重复")
    # no full ID number ever lands in a report
    for error in parsed.errors:
        assert ZHANG not in error.value and LI not in error.value and unknown not in error.value
    assert by_row[7].value == "李*四"
    assert by_row[8].value == mask_id_number(unknown)


def test_unregistered_allowed(name_of: NameOf) -> None:
    unknown = new_id_number("37048119900101005")
    content = csv_bytes([HEADER, ["钱七", unknown, "低保", ""]])
    parsed = parse_certified_list(
        content, department="civil_affairs", name_of=name_of, allow_unregistered=True
    )
    assert parsed.errors == [] and parsed.rows[0].id_number == unknown


def test_department_permissions_and_overrides(name_of: NameOf) -> None:
    content = csv_bytes([HEADER, ["张三", ZHANG, "低保边缘家庭成员", ""]])
    rural = parse_certified_list(content, department="agriculture", name_of=name_of)
    assert codes(rural) == [(2, "category_not_allowed")]
    yutai = {"rural_revitalization": certifiable_by("rural_revitalization") | {"low_income_margin"}}
    allowed = parse_certified_list(
        content, department="rural_revitalization", name_of=name_of, certifiable=yutai
    )
    assert allowed.errors == []
    health = csv_bytes(
        [
            ["姓名", "身份证号", "类别", "认定日期", "再生育日期"],
            ["赵六", ZHAO, "农村双女户", "2015-05-01", "2017-03-04"],
            ["李四", LI, "农村独女户", "", ""],
        ]
    )
    parsed = parse_certified_list(health, department="health_commission", name_of=name_of)
    assert parsed.rows[0].later_birth_on == dt.date(2017, 3, 4)
    assert codes(parsed) == [(3, "missing_date")]
    with pytest.raises(ValueError):
        parse_certified_list(content, department="police", name_of=name_of)


def test_category_names() -> None:
    assert group_code_of("低保对象") == "minimum_living_allowance"
    assert group_code_of(" 防止返贫监测帮扶对象 ") == "poverty_monitoring"
    assert group_code_of("脱贫不稳定户") == "poverty_monitoring"
    assert group_code_of("返贫致贫人口") == "relapsed_poverty"
    assert group_code_of("脱贫享受政策人口") == "lifted_out_of_poverty"
    assert group_code_of("事实无人抚养儿童") == "unsupported_child"
    assert group_code_of("（重点）困境儿童") == "child_in_difficulty"
    assert group_code_of("抚恤定补优抚对象") == "entitled_veteran"
    assert group_code_of("农村双女户") == "family_planning_household"
    assert group_code_of("orphan") == "orphan"
    assert group_code_of("学生") is None
    assert [disability_grade(t) for t in ("一级", "2", "二级残疾", "3级", "肆级", "x")] == [
        1,
        2,
        2,
        3,
        4,
        None,
    ]


def test_undecodable_and_binary_input(name_of: NameOf) -> None:
    junk = bytes([0x81, 0x20, 0xFF, 0xFE, 0x80, 0x00]) * 10
    parsed = parse_certified_list(junk, department="civil_affairs", name_of=name_of)
    assert parsed.rows == [] and parsed.errors[0].is_file_level
    assert parsed.errors[0].code in {"undecodable", "not_text"}
    with pytest.raises(UploadRejected):
        decode_bytes(b"\xff\xfe\x00")
    not_xlsx = parse_certified_list(
        b"PK\x03\x04garbage", department="civil_affairs", name_of=name_of
    )
    assert not_xlsx.errors[0].code == "bad_xlsx"
    old_xls = parse_certified_list(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", department="civil_affairs", name_of=name_of
    )
    assert old_xls.errors[0].code == "xls_not_supported"
    assert decode_bytes("姓名".encode("gb18030")) == "姓名"
    assert decode_bytes(codecs.BOM_UTF8 + "姓名".encode()) == "姓名"


def test_error_reports(name_of: NameOf) -> None:
    content = csv_bytes([HEADER, ["李小四", LI, "低保", ""], ["张三", "123", "低保", ""]])
    parsed = parse_certified_list(content, department="civil_affairs", name_of=name_of)
    report = write_error_report_csv(parsed.errors)
    assert report.startswith(codecs.BOM_UTF8)
    text = report.decode("utf-8-sig")
    assert text.splitlines()[0] == "行号,列,值,错误原因"
    assert LI not in text
    workbook = load_workbook(io.BytesIO(write_error_report_xlsx(parsed.errors)))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0] == ("行号", "列", "值", "错误原因")
    assert rows[1][0] == 2 and rows[1][1] == "姓名"
    assert len(rows) == 3
