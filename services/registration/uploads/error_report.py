"""Error reports for uploaders: CSV (UTF-8 with BOM, so Excel shows the Chinese) or XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from services.registration.uploads.errors import RowError
from shared.cells import safe_cell

REPORT_HEADERS: tuple[str, str, str, str] = ("行号", "列", "值", "错误原因")


def _cells(error: RowError) -> tuple[str, str, str, str]:
    row = "文件" if error.is_file_level else str(error.row_number)
    # what the uploader typed is text a spreadsheet must never run as a formula
    return (row, safe_cell(error.column or ""), safe_cell(error.value),
            safe_cell(error.message))


def write_error_report_csv(errors: Iterable[RowError]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(REPORT_HEADERS)
    for error in errors:
        writer.writerow(_cells(error))
    return buffer.getvalue().encode("utf-8-sig")


def write_error_report_xlsx(errors: Iterable[RowError], sheet_title: str = "错误报告") -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title)
    for letter, width in zip("ABCD", (8, 14, 24, 60), strict=True):
        sheet.column_dimensions[letter].width = width
    header = []
    for title in REPORT_HEADERS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for error in errors:
        row, column, value, message = _cells(error)
        # values are written as text so that masked ID numbers are never turned into numbers
        sheet.append([int(row) if row.isdigit() else row, column, value, message])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
