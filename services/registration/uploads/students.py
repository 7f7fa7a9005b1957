"""Student lists from schools (学生参保名单), gathered by the education bureau.

Form: 学校 (学校名称), 姓名 (学生姓名), 身份证号, 学籍号 (全国学籍号), optional 年级,
班级, 联系电话 (监护人电话), 户号, 乡镇, 村. One row per student; a student appears once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from services.registration.uploads.errors import RowError, file_error, mask_id_value
from services.registration.uploads.identity import NameLookup, check_id, check_phone, names_match
from services.registration.uploads.residents import ID_ALIASES
from services.registration.uploads.tables import Column, TableReader, TableSpec
from shared.idnumber import mask_name

STUDENT_SPEC = TableSpec(
    columns=(
        Column("school", "学校", ("学校名称", "就读学校", "所在学校")),
        Column("name", "姓名", ("学生姓名", "名字")),
        Column("id_number", "身份证号", ID_ALIASES),
        Column("student_number", "学籍号", ("全国学籍号", "学号", "学籍辅号"), required=False),
        Column("grade", "年级", (), required=False),
        Column("class_name", "班级", (), required=False),
        Column("phone", "联系电话", ("监护人电话", "家长电话", "手机号"), required=False),
        Column("household_number", "户号", (), required=False),
        Column("township", "乡镇", ("镇街", "乡镇(街道)", "户籍乡镇"), required=False),
        Column("village", "村", ("村居", "村(社区)", "户籍村"), required=False),
    ),
)


@dataclass(frozen=True, slots=True)
class StudentRow:
    row_number: int
    school: str
    name: str
    id_number: str
    student_number: str | None
    grade: str | None
    class_name: str | None
    phone: str | None
    household_number: str | None
    township: str | None
    village: str | None


@dataclass
class ParsedStudents:
    rows: list[StudentRow]
    errors: list[RowError]
    content_sha256: str

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_student_list(
    content: bytes, *, filename: str | None = None, name_of: NameLookup | None = None
) -> ParsedStudents:
    """Check each student; ``name_of`` (optional) catches names that differ from the
    registered holder of the ID number. Unregistered students are fine: the list is
    how they get registered."""
    reader = TableReader(content, STUDENT_SPEC, filename)
    rows: list[StudentRow] = []
    errors: list[RowError] = list(reader.errors)
    seen_id: dict[str, int] = {}
    seen_number: dict[str, int] = {}
    for number, v, _ in reader.rows():
        problems: list[RowError] = []
        person, reason = check_id(v["id_number"])
        if person is None:
            problems.append(
                RowError(number, "身份证号", mask_id_value(v["id_number"]), reason, "bad_id_number")
            )
        elif person.value in seen_id:
            problems.append(
                RowError(
                    number,
                    "身份证号",
                    person.masked,
                    f"与第 {seen_id[person.value]} 行重复",
                    "duplicate_row",
                )
            )
        else:
            seen_id[person.value] = number
        if not v["name"]:
            problems.append(RowError(number, "姓名", "", "姓名为空", "missing_name"))
        elif person is not None and name_of is not None:
            registered = name_of(person.value)
            if registered is not None and not names_match(v["name"], registered):
                problems.append(
                    RowError(
                        number,
                        "姓名",
                        mask_name(v["name"]),
                        f"姓名与身份证号登记的姓名（{mask_name(registered)}）不一致",
                        "name_mismatch",
                    )
                )
        if not v["school"]:
            problems.append(RowError(number, "学校", "", "学校为空", "missing_school"))
        student_number = v.get("student_number") or None
        if student_number:
            if student_number in seen_number:
                problems.append(
                    RowError(
                        number,
                        "学籍号",
                        student_number,
                        f"学籍号与第 {seen_number[student_number]} 行重复",
                        "duplicate_row",
                    )
                )
            else:
                seen_number[student_number] = number
        phone = None
        if v.get("phone"):
            phone = check_phone(v["phone"])
            if phone is None:
                problems.append(
                    RowError(number, "联系电话", "***", "联系电话应为11位手机号码", "bad_phone")
                )
        if problems:
            errors.extend(problems)
            continue
        assert person is not None
        rows.append(
            StudentRow(
                row_number=number,
                school=v["school"],
                name=v["name"],
                id_number=person.value,
                student_number=student_number,
                grade=v.get("grade") or None,
                class_name=v.get("class_name") or None,
                phone=phone,
                household_number=v.get("household_number") or None,
                township=v.get("township") or None,
                village=v.get("village") or None,
            )
        )
    errors.extend(e for e in reader.errors if e not in errors)
    if not rows and not errors:
        errors.append(file_error("文件中没有数据行", "empty"))
    return ParsedStudents(rows, errors, hashlib.sha256(content).hexdigest())
