"""Reference data for finding who is missing (应保未保): lists other offices send.

Four forms, each a CSV or XLSX with Chinese headers (required columns marked *):

1. ``household_register`` — public security household-register extract (公安户籍人口):
   *姓名, *身份证号, 户号, 与户主关系, 户籍地址, 乡镇代码, 村代码, 户籍状态 (正常 / 死亡 /
   迁出 / 注销 …), 变动日期.
2. ``employee_pension`` — HR bureau pension list (人社养老金领取人员): *姓名, *身份证号,
   养老保险类型 (职工 / 机关事业 / 城乡居民), 待遇状态 (正常领取 / 暂停 / 终止), 开始领取日期.
3. ``employee_insurance`` — employee-scheme enrollees (职工医保参保人员): *姓名, *身份证号,
   单位名称, 参保状态 (参保缴费 / 暂停 / 终止), 参保地.
4. ``township_population`` — statistics bureau township population (统计局乡镇人口):
   *乡镇 or *乡镇代码, *户籍人口, 常住人口, 统计年度.

Person lists are streamed in batches (a household register has the whole county);
the township population is small and parsed at once.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from services.registration.uploads.dates import InvalidDate, parse_date
from services.registration.uploads.errors import RowError, file_error, mask_id_value
from services.registration.uploads.identity import check_id
from services.registration.uploads.residents import ID_ALIASES
from services.registration.uploads.tables import Column, TableReader, TableSpec

_NAME = Column("name", "姓名", ("名字", "人员姓名"))
_ID = Column("id_number", "身份证号", ID_ALIASES)


def _opt(key: str, header: str, *aliases: str) -> Column:
    return Column(key, header, aliases, required=False)


REFERENCE_SPECS: dict[str, TableSpec] = {
    "household_register": TableSpec(
        columns=(
            _NAME,
            _ID,
            _opt("household_number", "户号", "户口号"),
            _opt("relation_to_head", "与户主关系", "家庭关系"),
            _opt("address", "户籍地址", "住址", "地址"),
            _opt("township_code", "乡镇代码", "镇街代码"),
            _opt("village_code", "村代码", "村居代码"),
            _opt("status", "户籍状态", "人口状态", "状态"),
            _opt("changed_on", "变动日期", "注销日期", "迁出日期"),
        )
    ),
    "employee_pension": TableSpec(
        columns=(
            _NAME,
            _ID,
            _opt("scheme", "养老保险类型", "险种", "参保险种"),
            _opt("status", "待遇状态", "领取状态", "状态"),
            _opt("since", "开始领取日期", "待遇开始日期", "领取日期"),
        )
    ),
    "employee_insurance": TableSpec(
        columns=(
            _NAME,
            _ID,
            _opt("employer", "单位名称", "参保单位", "单位"),
            _opt("status", "参保状态", "缴费状态", "状态"),
            _opt("place", "参保地", "参保统筹区"),
        )
    ),
}
_DATE_KEYS = {"changed_on", "since"}

TOWNSHIP_POPULATION_SPEC = TableSpec(
    columns=(
        _opt("township", "乡镇", "镇街", "乡镇(街道)", "乡镇名称"),
        _opt("township_code", "乡镇代码", "镇街代码", "区划代码"),
        Column("registered", "户籍人口", ("户籍人口数", "户籍人口(人)")),
        _opt("resident", "常住人口", "常住人口数", "常住人口(人)"),
        _opt("year", "统计年度", "年度", "年份"),
    ),
    one_of=(("township", "township_code"),),
)


@dataclass(frozen=True, slots=True)
class ReferenceRow:
    """One person in a reference list; ``fields`` holds the optional columns by key
    (dates normalised to ISO)."""

    kind: str
    row_number: int
    id_number: str
    name: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class ReferenceBatch:
    rows: list[ReferenceRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def iter_reference_batches(
    kind: str, source: bytes | BinaryIO, *, filename: str | None = None, batch_size: int = 5000
) -> Iterator[ReferenceBatch]:
    """Stream one person list of ``kind`` (see the module doc) in batches."""
    if kind not in REFERENCE_SPECS:
        raise ValueError(f"unknown reference list {kind!r}; one of {sorted(REFERENCE_SPECS)}")
    reader = TableReader(source, REFERENCE_SPECS[kind], filename)
    if reader.errors:
        yield ReferenceBatch(errors=list(reader.errors))
        return
    batch = ReferenceBatch()
    for number, values, _ in reader.rows():
        person, reason = check_id(values["id_number"])
        if person is None:
            batch.errors.append(
                RowError(
                    number, "身份证号", mask_id_value(values["id_number"]), reason, "bad_id_number"
                )
            )
            continue
        extra: dict[str, str] = {}
        bad = False
        for key, value in values.items():
            if key in ("id_number", "name") or not value:
                continue
            if key in _DATE_KEYS:
                try:
                    value = parse_date(value).isoformat()
                except InvalidDate as exc:
                    batch.errors.append(
                        RowError(
                            number,
                            REFERENCE_SPECS[kind].header_of(key),
                            value,
                            str(exc),
                            "bad_date",
                        )
                    )
                    bad = True
            extra[key] = value
        if bad:
            continue
        batch.rows.append(ReferenceRow(kind, number, person.value, values["name"], extra))
        if len(batch.rows) >= batch_size:
            yield batch
            batch = ReferenceBatch()
    batch.errors.extend(reader.errors)
    if batch.rows or batch.errors:
        yield batch


@dataclass(frozen=True, slots=True)
class TownshipPopulationRow:
    row_number: int
    township: str
    township_code: str | None
    registered: int
    resident: int | None
    year: int | None


@dataclass
class ParsedTownshipPopulation:
    rows: list[TownshipPopulationRow]
    errors: list[RowError]
    content_sha256: str


def _count(text: str) -> int | None:
    value = re.sub(r"[\s,人]", "", unicodedata.normalize("NFKC", text or ""))
    value = value[:-2] if value.endswith(".0") else value
    return int(value) if value.isdigit() else None


def parse_township_population(
    content: bytes, *, filename: str | None = None
) -> ParsedTownshipPopulation:
    """Township population from the statistics bureau. Names and codes are kept as given;
    matching them to the division tree is the caller's (see ``targets`` for the same)."""
    reader = TableReader(content, TOWNSHIP_POPULATION_SPEC, filename)
    rows: list[TownshipPopulationRow] = []
    errors = list(reader.errors)
    for number, v, _ in reader.rows():
        if v.get("township", "") in ("合计", "总计"):
            continue
        registered = _count(v["registered"])
        resident = _count(v["resident"]) if v.get("resident") else None
        year = _count(v["year"].removesuffix("年")) if v.get("year") else None
        if registered is None:
            errors.append(
                RowError(number, "户籍人口", v["registered"], "户籍人口应为整数", "bad_number")
            )
            continue
        if v.get("resident") and resident is None:
            errors.append(
                RowError(number, "常住人口", v["resident"], "常住人口应为整数", "bad_number")
            )
            continue
        rows.append(
            TownshipPopulationRow(
                number,
                v.get("township", ""),
                v.get("township_code") or None,
                registered,
                resident,
                year,
            )
        )
    errors.extend(e for e in reader.errors if e not in errors)
    if not rows and not errors:
        errors.append(file_error("文件中没有数据行", "empty"))
    return ParsedTownshipPopulation(rows, errors, hashlib.sha256(content).hexdigest())
