"""Resident bulk import (居民参保登记批量导入), streamed in batches.

Form (UTF-8 or GBK CSV, or XLSX), one person per row:

| header | key | required | note |
|---|---|---|---|
| 姓名 | name | yes | |
| 身份证号 (公民身份号码) | id_number | yes | 18 digits, checked |
| 手机号 (联系电话) | phone | no | 11-digit mobile |
| 户号 | household_number | no | household register number |
| 与户主关系 | relation_to_head | no | 户主, 配偶, 子, 女 … |
| 乡镇代码 | township_code | yes | 9 or 12 digits |
| 村代码 (村居代码) | village_code | no | 12 digits under the township |
| 地址 (户籍地址, 住址) | address | no | |
| 民族 | ethnicity | no | |

A county's file has about 1.5 million rows: rows are validated one by one and handed
out in batches of ``batch_size``; only the ID numbers already seen are kept (as integers)
to detect duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from kernels.regions.tree import RegionTree
from services.registration.uploads.errors import RowError, mask_id_value
from services.registration.uploads.identity import check_id, check_phone
from services.registration.uploads.regions_check import check_township_village
from services.registration.uploads.tables import Column, TableReader, TableSpec

ID_ALIASES = ("公民身份号码", "身份证号码", "身份证", "居民身份证号码", "证件号码", "证件号")

RESIDENT_SPEC = TableSpec(
    columns=(
        Column("name", "姓名", ("名字", "人员姓名")),
        Column("id_number", "身份证号", ID_ALIASES),
        Column("phone", "手机号", ("联系电话", "手机号码", "电话", "联系方式"), required=False),
        Column("household_number", "户号", ("户口号", "户编号"), required=False),
        Column("relation_to_head", "与户主关系", ("家庭关系", "关系"), required=False),
        Column("township_code", "乡镇代码", ("镇街代码", "乡镇(街道)代码")),
        Column("village_code", "村代码", ("村居代码", "村(社区)代码", "社区代码"), required=False),
        Column("address", "地址", ("户籍地址", "住址", "居住地址"), required=False),
        Column("ethnicity", "民族", (), required=False),
    ),
)


@dataclass(frozen=True, slots=True)
class ResidentRow:
    row_number: int
    name: str
    id_number: str
    phone: str | None
    household_number: str | None
    relation_to_head: str | None
    township_code: str
    village_code: str | None
    address: str | None = None
    ethnicity: str | None = None


@dataclass
class ResidentBatch:
    rows: list[ResidentRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def iter_resident_batches(
    source: bytes | BinaryIO,
    *,
    filename: str | None = None,
    batch_size: int = 5000,
    regions: RegionTree | None = None,
    county_code: str | None = None,
) -> Iterator[ResidentBatch]:
    """Yield batches of valid rows and the errors found in the same stretch of the file.

    File-level problems (encoding, columns) come as a single batch with errors only.
    A row with any error is left out of ``rows``. Batches hold at most ``batch_size``
    rows; errors do not count towards it.
    """
    reader = TableReader(source, RESIDENT_SPEC, filename)
    if reader.errors:
        yield ResidentBatch(errors=list(reader.errors))
        return
    spec = RESIDENT_SPEC
    seen: dict[int, int] = {}
    region_checks: dict[tuple[str, str], tuple[str, str, list[tuple[str, str]]]] = {}
    batch = ResidentBatch()
    for number, values, _ in reader.rows():
        problems: list[RowError] = []
        person, reason = check_id(values["id_number"])
        if person is None:
            problems.append(
                RowError(
                    number, "身份证号", mask_id_value(values["id_number"]), reason, "bad_id_number"
                )
            )
        else:
            key = int(person.value[:17])
            if key in seen:
                problems.append(
                    RowError(
                        number,
                        "身份证号",
                        person.masked,
                        f"与第 {seen[key]} 行身份证号重复",
                        "duplicate_row",
                    )
                )
            else:
                seen[key] = number
        name = values["name"]
        if not name:
            problems.append(RowError(number, "姓名", "", "姓名为空", "missing_name"))
        phone = None
        if values.get("phone"):
            phone = check_phone(values["phone"])
            if phone is None:
                problems.append(
                    RowError(number, "手机号", "***", "手机号应为11位手机号码", "bad_phone")
                )
        codes = (values["township_code"], values.get("village_code", ""))
        checked = region_checks.get(codes)
        if checked is None:  # a county has ~1,000 villages: check each pair once
            checked = check_township_village(codes[0], codes[1], regions, county_code)
            if len(region_checks) < 100_000:
                region_checks[codes] = checked
        township, village, region_problems = checked[0], checked[1], list(checked[2])
        if not values["township_code"]:
            region_problems.append(("township_code", "乡镇代码为空"))
        for key_name, message in region_problems:
            problems.append(
                RowError(
                    number,
                    spec.header_of(key_name),
                    values.get(key_name, ""),
                    message,
                    "bad_region_code",
                )
            )
        if problems:
            batch.errors.extend(problems)
        else:
            assert person is not None
            batch.rows.append(
                ResidentRow(
                    row_number=number,
                    name=name,
                    id_number=person.value,
                    phone=phone,
                    household_number=values.get("household_number") or None,
                    relation_to_head=values.get("relation_to_head") or None,
                    township_code=township,
                    village_code=village or None,
                    address=values.get("address") or None,
                    ethnicity=values.get("ethnicity") or None,
                )
            )
            if len(batch.rows) >= batch_size:
                yield batch
                batch = ResidentBatch()
    batch.errors.extend(reader.errors)  # a decode error in the middle of the file
    if batch.rows or batch.errors:
        yield batch
