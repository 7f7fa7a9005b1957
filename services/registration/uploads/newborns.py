"""Newborn registrations (新生儿参保登记).

Form: 新生儿姓名 (姓名), and 身份证号 or 出生日期 (or both, then they must agree),
optional 性别, 父亲姓名, 父亲身份证号, 母亲姓名, 母亲身份证号 (at least one parent's ID
is required), 户号, 出生医学证明编号, 乡镇代码, 村代码, 联系电话.
A newborn without an ID number yet is registered by birth date and a parent's ID.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from services.registration.uploads.dates import InvalidDate, parse_date
from services.registration.uploads.errors import RowError, file_error, mask_id_value
from services.registration.uploads.identity import check_id, check_phone
from services.registration.uploads.tables import Column, TableReader, TableSpec

NEWBORN_SPEC = TableSpec(
    columns=(
        Column("name", "新生儿姓名", ("姓名", "婴儿姓名", "新生儿名字")),
        Column(
            "id_number",
            "身份证号",
            ("新生儿身份证号", "公民身份号码", "身份证号码"),
            required=False,
        ),
        Column("birth_date", "出生日期", ("出生时间", "出生年月日"), required=False),
        Column("sex", "性别", (), required=False),
        Column("father_name", "父亲姓名", (), required=False),
        Column("father_id", "父亲身份证号", ("父亲公民身份号码", "父亲身份证号码"), required=False),
        Column("mother_name", "母亲姓名", (), required=False),
        Column("mother_id", "母亲身份证号", ("母亲公民身份号码", "母亲身份证号码"), required=False),
        Column("household_number", "户号", (), required=False),
        Column(
            "birth_certificate",
            "出生医学证明编号",
            ("出生证编号", "出生医学证明号"),
            required=False,
        ),
        Column("township_code", "乡镇代码", ("镇街代码",), required=False),
        Column("village_code", "村代码", ("村居代码",), required=False),
        Column("phone", "联系电话", ("手机号", "监护人电话"), required=False),
    ),
    one_of=(("id_number", "birth_date"), ("father_id", "mother_id")),
)


@dataclass(frozen=True, slots=True)
class NewbornRow:
    row_number: int
    name: str
    id_number: str | None
    birth_date: dt.date
    sex: str | None  # male | female
    father_id: str | None
    mother_id: str | None
    father_name: str | None
    mother_name: str | None
    household_number: str | None
    birth_certificate: str | None
    township_code: str | None
    village_code: str | None
    phone: str | None


@dataclass
class ParsedNewborns:
    rows: list[NewbornRow]
    errors: list[RowError]
    content_sha256: str

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_newborn_list(
    content: bytes, *, filename: str | None = None, today: dt.date | None = None
) -> ParsedNewborns:
    today = today or dt.date.today()
    reader = TableReader(content, NEWBORN_SPEC, filename)
    rows: list[NewbornRow] = []
    errors: list[RowError] = list(reader.errors)
    seen: dict[str, int] = {}
    for number, v, _ in reader.rows():
        problems: list[RowError] = []

        def err(
            column: str,
            value: str,
            message: str,
            code: str,
            _n: int = number,
            _to: list[RowError] = problems,
        ) -> None:
            _to.append(RowError(_n, column, value, message, code))

        if not v["name"]:
            err("新生儿姓名", "", "姓名为空", "missing_name")
        child_id = None
        birth: dt.date | None = None
        sex = {"男": "male", "女": "female"}.get(v.get("sex", ""))
        if v.get("id_number"):
            child, reason = check_id(v["id_number"])
            if child is None:
                err("身份证号", mask_id_value(v["id_number"]), reason, "bad_id_number")
            else:
                child_id, birth = child.value, child.birth_date
                if sex is not None and sex != child.sex:
                    err("性别", v["sex"], "性别与身份证号不一致", "sex_mismatch")
                sex = child.sex
                if child_id in seen:
                    err("身份证号", child.masked, f"与第 {seen[child_id]} 行重复", "duplicate_row")
                else:
                    seen[child_id] = number
        if v.get("birth_date"):
            try:
                stated = parse_date(v["birth_date"])
            except InvalidDate as exc:
                err("出生日期", v["birth_date"], str(exc), "bad_date")
            else:
                if birth is not None and stated != birth:
                    err("出生日期", v["birth_date"], "出生日期与身份证号不一致", "birth_mismatch")
                birth = birth or stated
        elif not v.get("id_number"):
            err("出生日期", "", "须填写身份证号或出生日期", "missing_birth_date")
        if birth is not None and birth > today:
            err("出生日期", birth.isoformat(), "出生日期晚于今天", "bad_date")
        parents: dict[str, str | None] = {}
        for key, header in (("father_id", "父亲身份证号"), ("mother_id", "母亲身份证号")):
            parents[key] = None
            if v.get(key):
                parent, reason = check_id(v[key])
                if parent is None:
                    err(header, mask_id_value(v[key]), reason, "bad_id_number")
                else:
                    parents[key] = parent.value
        if not v.get("father_id") and not v.get("mother_id"):
            err("父亲身份证号", "", "须至少填写父亲或母亲的身份证号", "missing_parent")
        phone = None
        if v.get("phone"):
            phone = check_phone(v["phone"])
            if phone is None:
                err("联系电话", "***", "联系电话应为11位手机号码", "bad_phone")
        if problems or birth is None:
            errors.extend(problems)
            continue
        rows.append(
            NewbornRow(
                row_number=number,
                name=v["name"],
                id_number=child_id,
                birth_date=birth,
                sex=sex,
                father_id=parents["father_id"],
                mother_id=parents["mother_id"],
                father_name=v.get("father_name") or None,
                mother_name=v.get("mother_name") or None,
                household_number=v.get("household_number") or None,
                birth_certificate=v.get("birth_certificate") or None,
                township_code=v.get("township_code") or None,
                village_code=v.get("village_code") or None,
                phone=phone,
            )
        )
    errors.extend(e for e in reader.errors if e not in errors)
    if not rows and not errors:
        errors.append(file_error("文件中没有数据行", "empty"))
    return ParsedNewborns(rows, errors, hashlib.sha256(content).hexdigest())
