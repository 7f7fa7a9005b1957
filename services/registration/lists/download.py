"""A department's current certified list written in the layout it uploads (CSV or XLSX), so
that it can correct the list and send it again: the upload parser reads these headers, and a
file downloaded and uploaded unchanged changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass

from services.registration.uploads.categories import GROUP_NAMES, group_code_of
from shared.cells import safe_cell

HEADERS = ("姓名", "身份证号", "类别", "认定日期", "终止日期", "再生育日期", "残疾等级")
_GRADES = {1: "一级", 2: "二级", 3: "三级", 4: "四级"}


@dataclass(frozen=True, slots=True)
class CertifiedEntry:
    id_number: str
    name: str
    group_code: str
    certified_on: dt.date | None
    ends_on: dt.date | None
    later_birth_on: dt.date | None
    disability_grade: int | None = None


def category_text(group_code: str) -> str:
    """The Chinese name of the group, as departments write it (the parser reads it back)."""
    name = GROUP_NAMES.get(group_code, group_code)
    return name if group_code_of(name) == group_code else group_code


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _cells(e: CertifiedEntry) -> list[str]:
    return [safe_cell(e.name), safe_cell(e.id_number), safe_cell(category_text(e.group_code)),
            _day(e.certified_on), _day(e.ends_on), _day(e.later_birth_on),
            _GRADES.get(e.disability_grade or 0, "")]


def write_list_csv(entries: Iterable[CertifiedEntry]) -> bytes:
    """UTF-8 with BOM (Excel and WPS show the Chinese)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for entry in entries:
        writer.writerow(_cells(entry))
    return buffer.getvalue().encode("utf-8-sig")


def write_list_xlsx(entries: Iterable[CertifiedEntry], title: str = "名单") -> bytes:
    """Every cell is text (ID numbers must never become numbers, dates stay as written)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    for letter, width in zip("ABCDEFG", (12, 22, 20, 12, 12, 12, 10), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.append(list(HEADERS))
    for entry in entries:
        sheet.append(_cells(entry))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
