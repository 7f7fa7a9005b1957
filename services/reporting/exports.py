"""Tables as the offices print them: CSV (UTF-8 with BOM, opens in Excel), XLSX, or JSON.

A `Table` is a title, columns (key, Chinese header) and rows of plain values; the same table
feeds every format so the columns never drift between them. Every cell written, titles and
headers included, goes through `_cell`, which passes text through `shared.cells.safe_cell`
(a name or note starting with `=`, `+`, `-`, `@` is written as text, never as a formula).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font

from shared.cells import safe_cell
from shared.errors import Invalid

Format = Literal["json", "csv", "xlsx", "html"]


@dataclass
class Table:
    title: str
    columns: Sequence[tuple[str, str]]  # (key, header)
    rows: list[dict[str, Any]]
    subtitle: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


def _cell(value: Any) -> Any:
    """The one way a value enters a file: dates as ISO text; text without the control
    characters XLSX cannot hold, then neutralised (a formula prefix hidden behind a control
    character is found too)."""
    if value is None:
        return ""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        return safe_cell(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def _row(values: Sequence[Any]) -> list[Any]:
    return [_cell(v) for v in values]


_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def to_csv(tables: Sequence[Table]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for i, table in enumerate(tables):
        if i:
            writer.writerow([])
        writer.writerow(_row([table.title]))
        if table.subtitle:
            writer.writerow(_row([table.subtitle]))
        writer.writerow(_row([header for _, header in table.columns]))
        for row in table.rows:
            writer.writerow(_row([row.get(k) for k, _ in table.columns]))
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(tables: Sequence[Table]) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for table in tables:
        ws = wb.create_sheet(_SHEET_FORBIDDEN.sub("-", table.title)[:31] or "Sheet")
        width = max(1, len(table.columns))
        ws.append(_row([table.title]))
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
        ws["A1"].font = Font(bold=True, size=14)
        ws["A1"].alignment = Alignment(horizontal="center")
        ws.append(_row([table.subtitle]))
        ws.append(_row([header for _, header in table.columns]))
        for cell in ws[3]:
            cell.font = Font(bold=True)
        for row in table.rows:
            ws.append([None if row.get(k) is None else _cell(row.get(k))
                       for k, _ in table.columns])
        for idx, (_, header) in enumerate(table.columns, start=1):
            ws.column_dimensions[ws.cell(row=3, column=idx).column_letter].width = max(
                10, len(header) * 2 + 2)
        ws.freeze_panes = "A4"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def file_response(tables: Sequence[Table], fmt: Format, filename: str) -> Response:
    if fmt == "csv":
        body, media, ext = to_csv(tables), "text/csv; charset=utf-8", "csv"
    elif fmt == "xlsx":
        body = to_xlsx(tables)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        ext = "xlsx"
    else:
        raise Invalid(f"format {fmt} is not a file format", field="format", key="invalid_format",
                      params={"format": fmt})
    name = f"{filename}.{ext}"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f"attachment; filename=\"{quote(name)}\"; "
                               f"filename*=UTF-8''{quote(name)}"})
