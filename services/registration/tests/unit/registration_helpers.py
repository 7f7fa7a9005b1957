"""Builders shared by the registration unit tests (named uniquely: no package here)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from shared.idnumber import check_character


def new_id_number(prefix17: str) -> str:
    return prefix17 + check_character(prefix17)


ZHANG = new_id_number("37048119800101001")  # male
LI = new_id_number("37048119850312002")  # female
WANG = new_id_number("37048120100705003")  # male child
ZHAO = new_id_number("37048119600909004")  # female
REGISTRY = {ZHANG: "张三", LI: "李四", WANG: "王小明", ZHAO: "赵六"}


def csv_bytes(rows: Iterable[Iterable[str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: Iterable[Iterable[object]], title_row: str | None = None) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    if title_row:
        sheet.append([title_row])
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
