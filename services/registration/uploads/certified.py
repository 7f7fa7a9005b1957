"""Certified name lists (政府资助人员名单) from departments.

A department uploads its list in its own layout: Chinese headers (姓名, 身份证号 or
公民身份号码, 类别 …), Chinese category names, dates in any common form. Each row is
checked on its own and every problem becomes a :class:`RowError`; only rows without a
problem become :class:`CertifiedRow`s.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.registration.uploads.categories import (
    DEPARTMENTS,
    GROUP_NAMES,
    canonical_department,
    certifiable_by,
    disability_grade,
    group_code_of,
)
from services.registration.uploads.dates import InvalidDate, parse_date
from services.registration.uploads.errors import RowError, file_error, mask_id_value
from services.registration.uploads.identity import NameLookup, check_id, names_match
from services.registration.uploads.tables import Column, TableReader, TableSpec
from shared.idnumber import mask_name

CERTIFIED_LIST_SPEC = TableSpec(
    columns=(
        Column("name", "姓名", ("名字", "人员姓名", "对象姓名", "成员姓名", "救助对象姓名")),
        Column(
            "id_number",
            "身份证号",
            (
                "公民身份号码",
                "身份证号码",
                "身份证",
                "居民身份证号码",
                "证件号码",
                "证件号",
                "身份证件号码",
                "公民身份证号码",
            ),
        ),
        Column(
            "category",
            "类别",
            (
                "人员类别",
                "对象类别",
                "资助类别",
                "类型",
                "人员类型",
                "认定类别",
                "身份类别",
                "资助对象类别",
                "困难类别",
                "优抚类别",
            ),
            required=False,
        ),
        Column(
            "certified_on",
            "认定日期",
            (
                "认定时间",
                "纳入日期",
                "纳入时间",
                "审批日期",
                "确认日期",
                "起始日期",
                "开始日期",
                "享受日期",
            ),
            required=False,
        ),
        Column(
            "ends_on",
            "终止日期",
            ("截止日期", "退出日期", "结束日期", "有效期至", "终止时间"),
            required=False,
        ),
        Column(
            "later_birth_on",
            "再生育日期",
            ("再生育子女出生日期", "再生育时间", "再生育子女出生时间"),
            required=False,
        ),
        Column("disability_grade", "残疾等级", ("残疾级别", "残疾程度"), required=False),
        Column("disability_type", "残疾类别", ("残疾类型", "残疾种类"), required=False),
        Column(
            "township",
            "乡镇",
            ("镇街", "乡镇(街道)", "镇(街道)", "所属乡镇", "街道", "乡镇街道", "镇街名称"),
            required=False,
        ),
        Column(
            "village",
            "村",
            ("村居", "村(社区)", "村(居)", "社区", "所属村", "村名", "村居名称"),
            required=False,
        ),
        Column("phone", "联系电话", ("手机号", "手机号码", "电话", "联系方式"), required=False),
        Column("sex", "性别", (), required=False),
        Column("household_head", "户主姓名", ("户主",), required=False),
        Column("relation", "与户主关系", ("与户主关系名称",), required=False),
    ),
)
EXTRA_KEYS = (
    "disability_grade",
    "disability_type",
    "township",
    "village",
    "phone",
    "household_head",
    "relation",
)
_GRADE_IN_CATEGORY = re.compile(r"^([一二三四1234])级")


@dataclass(frozen=True, slots=True)
class CertifiedRow:
    id_number: str
    name: str
    group_code: str
    certified_on: dt.date | None
    ends_on: dt.date | None
    later_birth_on: dt.date | None
    extra: dict[str, str] = field(default_factory=dict)
    row_number: int = 0
    disability_grade: int | None = None


@dataclass
class ParsedList:
    rows: list[CertifiedRow]
    errors: list[RowError]
    content_sha256: str
    department: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def file_errors(self) -> list[RowError]:
        return [e for e in self.errors if e.is_file_level]


def parse_certified_list(
    content: bytes,
    *,
    department: str,
    name_of: NameLookup,
    filename: str | None = None,
    allow_unregistered: bool = False,
    default_category: str | None = None,
    certifiable: Mapping[str, frozenset[str] | set[str]] | None = None,
    allow_extra_columns: bool = False,
) -> ParsedList:
    """Parse and check one department's certified list.

    ``name_of(id_number)`` returns the registered name of that person, or None when the
    person is unknown (an error ``person_not_registered`` unless ``allow_unregistered``).
    ``default_category`` is used when the file has no 类别 column or a blank cell (the
    upload form may ask for the list's category). ``certifiable`` overrides, per
    department, the groups it may certify. Unknown columns are a file-level error unless
    ``allow_extra_columns``, in which case their values land in ``extra``.
    """
    digest = hashlib.sha256(content).hexdigest()
    dept = canonical_department(department)
    allowed = certifiable_by(dept, certifiable)
    reader = TableReader(content, CERTIFIED_LIST_SPEC, filename, allow_extra_columns)
    spec = CERTIFIED_LIST_SPEC
    if not reader.errors and not reader.has("category") and default_category is None:
        reader.errors.append(
            file_error("缺少必需的列：类别（或在上传时选择名单类别）", "missing_columns", "类别")
        )
    rows: list[CertifiedRow] = []
    errors: list[RowError] = list(reader.errors)
    seen: dict[tuple[str, str], int] = {}
    for number, values, extra_values in reader.rows():
        row_errors: list[RowError] = []

        def err(
            key: str,
            value: str,
            message: str,
            code: str,
            _n: int = number,
            _to: list[RowError] = row_errors,
        ) -> None:
            _to.append(RowError(_n, spec.header_of(key), value, message, code))

        id_text = values["id_number"]
        person, reason = check_id(id_text)
        name = values["name"].strip()
        if person is None:
            err("id_number", mask_id_value(id_text), reason, "bad_id_number")
        if not name:
            err("name", "", "姓名为空", "missing_name")
        if person is not None and name:
            registered = name_of(person.value)
            if registered is None:
                if not allow_unregistered:
                    err(
                        "id_number",
                        person.masked,
                        "该身份证号未在参保登记系统中登记",
                        "person_not_registered",
                    )
            elif not names_match(name, registered):
                err(
                    "name",
                    mask_name(name),
                    f"姓名与身份证号登记的姓名（{mask_name(registered)}）不一致",
                    "name_mismatch",
                )
        if person is not None and values.get("sex"):
            sex = {"男": "male", "女": "female"}.get(values["sex"].strip())
            if sex is not None and sex != person.sex:
                err("sex", values["sex"], "性别与身份证号不一致", "sex_mismatch")

        category_text = values.get("category", "") or (default_category or "")
        group = group_code_of(category_text) if category_text else None
        if not category_text:
            err("category", "", "类别为空", "missing_category")
        elif group is None:
            err("category", category_text, f"无法识别的类别“{category_text}”", "unknown_category")
        elif group not in allowed:
            err(
                "category",
                category_text,
                f"{DEPARTMENTS[dept]}不能认定“{GROUP_NAMES[group]}”",
                "category_not_allowed",
            )

        dates: dict[str, dt.date | None] = {}
        for key in ("certified_on", "ends_on", "later_birth_on"):
            text = values.get(key, "")
            dates[key] = None
            if text:
                try:
                    dates[key] = parse_date(text)
                except InvalidDate as exc:
                    err(key, text, str(exc), "bad_date")
        start, end = dates["certified_on"], dates["ends_on"]
        if start and end and end < start:
            err("ends_on", values["ends_on"], "终止日期早于认定日期", "bad_date")
        if group not in allowed:
            group_checks = None  # the category is already wrong: no group-specific checks
        else:
            group_checks = group
        if (
            group_checks == "family_planning_household"
            and start is None
            and not values.get("certified_on")
        ):
            err("certified_on", "", "农村独女户/双女户须填写认定日期", "missing_date")

        grade: int | None = None
        if group_checks == "severe_disability":
            grade_text = values.get("disability_grade", "")
            grade = disability_grade(grade_text) if grade_text else None
            if not grade_text:
                match = _GRADE_IN_CATEGORY.match(category_text)
                grade = disability_grade(match.group(1)) if match else None
            if grade is None:
                err(
                    "disability_grade",
                    grade_text,
                    "重度残疾人须填写残疾等级（一级或二级）"
                    if not grade_text
                    else f"无法识别的残疾等级“{grade_text}”",
                    "bad_disability_grade",
                )
            elif grade not in (1, 2):
                err(
                    "disability_grade",
                    grade_text,
                    f"残疾等级为{grade}级，重度残疾人仅限一、二级",
                    "bad_disability_grade",
                )

        if person is not None and group is not None:
            key = (person.value, group)
            if key in seen:
                err(
                    "id_number",
                    person.masked,
                    f"与第 {seen[key]} 行重复（同一身份证号、同一类别）",
                    "duplicate_row",
                )
            else:
                seen[key] = number

        if row_errors:
            errors.extend(row_errors)
            continue
        assert person is not None and group is not None
        extra = {k: values[k] for k in EXTRA_KEYS if values.get(k)}
        extra.update({h: v for h, v in extra_values.items() if v})
        rows.append(
            CertifiedRow(
                id_number=person.value,
                name=name,
                group_code=group,
                certified_on=start,
                ends_on=end,
                later_birth_on=dates["later_birth_on"],
                extra=extra,
                row_number=number,
                disability_grade=grade,
            )
        )
    errors.extend(e for e in reader.errors if e not in errors)
    if not rows and not errors:
        errors.append(file_error("文件中没有数据行", "empty"))
    return ParsedList(rows=rows, errors=errors, content_sha256=digest, department=dept)
