"""Tables as the offices print them: XLSX (numbers as numbers, dates as dates, 合计 rows, A4
print setup), CSV (one table, UTF-8 with BOM, opens in Excel), or JSON.

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
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

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
    # the columns the 合计 row adds up (None: amounts and head counts, see summed())
    totals: Sequence[str] | None = None


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
_FILE_FORBIDDEN = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')

# how a column's values are written: amounts in yuan as numbers (#,##0.00), dates as dates,
# counts as integers; everything else as text
AMOUNT, DATE, COUNT, RATE, TEXT = "amount", "date", "count", "rate", "text"
_COUNT_KEYS = frozenset({"headcount", "paid_headcount", "count", "target", "registered", "paid",
                         "paid_person", "paid_government", "change_since_yesterday", "no",
                         "rank", "persons", "matched", "differences"})
_SUMMED_COUNTS = frozenset({"headcount", "paid_headcount", "count", "target", "registered",
                           "paid", "paid_person", "paid_government", "change_since_yesterday",
                           "persons"})
AMOUNT_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"


def column_kind(key: str) -> str:
    if key.endswith("_yuan"):
        return AMOUNT
    if key.endswith("_on") or key.endswith("_date") or key in ("as_of", "date"):
        return DATE
    if key in _COUNT_KEYS:
        return COUNT
    if key == "rate" or key.endswith("_rate"):
        return RATE
    return TEXT


def summed(table: Table) -> list[str]:
    """The columns a 合计 row adds up: amounts and head counts (never ranks or rates)."""
    if table.totals is not None:
        return list(table.totals)
    return [k for k, _ in table.columns
            if column_kind(k) == AMOUNT or k in _SUMMED_COUNTS]


def _typed(value: Any, kind: str) -> Any:
    """A value as the spreadsheet should hold it: Decimal yuan, a real date, an int."""
    if value is None or value == "":
        return None
    try:
        if kind in (AMOUNT, RATE):
            return Decimal(str(value))
        if kind == DATE:
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
        if kind == COUNT and not isinstance(value, bool):
            return int(value)
    except (ArithmeticError, ValueError):
        pass
    return _cell(value)


def _width(value: Any) -> int:
    """Display width: a CJK character takes two columns."""
    if isinstance(value, Decimal):
        text = f"{value:,.2f}"
    elif isinstance(value, dt.date):
        text = "2025-01-01"
    else:
        text = str(value if value is not None else "")
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def to_csv(tables: Sequence[Table]) -> bytes:
    """One table (the first): one header row, then the rows; amounts as plain numbers, dates
    ISO. UTF-8 with a BOM so that Excel opens it as UTF-8. No title lines: a program reads it."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    if tables:
        table = tables[0]
        writer.writerow(_row([header for _, header in table.columns]))
        for row in table.rows:
            writer.writerow(_row([row.get(k) for k, _ in table.columns]))
    return buf.getvalue().encode("utf-8-sig")


HEADER_ROW = 3  # title, subtitle, headers: the rows printed on every page


def _sheet(wb: Workbook, table: Table, used: set[str]) -> None:
    name = _SHEET_FORBIDDEN.sub("-", table.title)[:31] or "Sheet"
    base, n = name, 2
    while name in used:  # two tables of one title get two sheets
        suffix = f"({n})"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    used.add(name)
    ws = wb.create_sheet(name)
    width = max(1, len(table.columns))
    kinds = [column_kind(k) for k, _ in table.columns]
    ws.append(_row([table.title]))
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append(_row([table.subtitle]))
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    ws.append(_row([header for _, header in table.columns]))
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for cell in ws[HEADER_ROW]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = border
    widths = [_width(header) for _, header in table.columns]
    for row in table.rows:
        values = [_typed(row.get(k), kind) for (k, _), kind in zip(table.columns, kinds,
                                                                   strict=True)]
        ws.append(values)
        for i, value in enumerate(values):
            widths[i] = max(widths[i], _width(value))
    first, last = HEADER_ROW + 1, HEADER_ROW + len(table.rows)
    totals = summed(table)
    if table.rows and totals:
        label_col = next(i for i, (key, _) in enumerate(table.columns) if key not in totals) \
            if len(totals) < width else 0
        total_row: list[Any] = [None] * width
        total_row[label_col] = "合计"
        for i, (key, _) in enumerate(table.columns):
            if key in totals:
                letter = get_column_letter(i + 1)
                total_row[i] = f"=SUM({letter}{first}:{letter}{last})"
        ws.append(total_row)
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
    for row in ws.iter_rows(min_row=first, max_row=ws.max_row):
        for cell, kind in zip(row, kinds, strict=False):
            cell.border = border
            if kind == AMOUNT:
                cell.number_format = AMOUNT_FORMAT
            elif kind == DATE:
                cell.number_format = DATE_FORMAT
            elif kind == RATE:
                cell.number_format = "0.00"
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(60, max(6, w + 2))
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=1)
    # as the offices print it: A4, fit to the page width, titles and headers on every page,
    # page numbers in the footer
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if sum(widths) > 90 else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"1:{HEADER_ROW}"
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.evenFooter.center.text = "第 &P 页，共 &N 页"


def to_xlsx(tables: Sequence[Table]) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for table in tables:
        _sheet(wb, table, used)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def file_name(tables: Sequence[Table]) -> str:
    """The first table's title as a file name (Chinese, as the office saves it)."""
    title = tables[0].title if tables else ""
    return _FILE_FORBIDDEN.sub("", title).replace(" ", "").strip(".")[:80] or "canbao"


def file_response(tables: Sequence[Table], fmt: Format) -> Response:
    """The tables as a download named after the first table's title (XLSX: every table, one
    sheet each; CSV: the first table)."""
    if fmt == "csv":
        body, media, ext = to_csv(tables), "text/csv; charset=utf-8", "csv"
    elif fmt == "xlsx":
        body = to_xlsx(tables)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        ext = "xlsx"
    else:
        raise Invalid(f"format {fmt} is not a file format", field="format", key="invalid_format",
                      params={"format": fmt})
    name = f"{file_name(tables)}.{ext}"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f"attachment; filename=\"{quote(name)}\"; "
                               f"filename*=UTF-8''{quote(name)}"})
