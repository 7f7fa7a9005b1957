"""Office documents a service builds with openpyxl itself: amounts as numbers in yuan, dates
as dates, columns wide enough, and the A4 print setup every Canbao workbook has (fit to width,
title rows on every page, page numbers). Reporting's tables have their own builder
(services/reporting/exports.py); this is for one-off workbooks of other services.

    yuan(fen) -> Decimal | None          day("2025-01-05") -> date | None
    finish(ws, title_rows=1)             formats, widths, print setup of one sheet
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal
from typing import Any

from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

AMOUNT_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
PAGE_FOOTER = "第 &P 页，共 &N 页"


def yuan(fen: int | None) -> Decimal | None:
    """An amount in fen as the yuan a spreadsheet adds up (exact: a Decimal, never a float)."""
    return None if fen is None else Decimal(fen) / 100


def day(value: str | dt.date | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _width(value: Any) -> int:
    if isinstance(value, Decimal):
        text = f"{value:,.2f}"
    elif isinstance(value, dt.date):
        text = "2025-01-01"
    else:
        text = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def finish(ws: Any, title_rows: int = 1) -> None:
    """`ws`: an openpyxl worksheet. Decimals shown as `#,##0.00`, dates as `yyyy-mm-dd`,
    each column as wide as its widest cell (within reason), A4 fitted to the width, the first
    `title_rows` rows on every printed page, page numbers in the footer."""
    widths: dict[int, int] = {}
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, Decimal):
                cell.number_format = AMOUNT_FORMAT
            elif isinstance(cell.value, dt.date):
                cell.number_format = DATE_FORMAT
            widths[cell.column] = max(widths.get(cell.column, 0), _width(cell.value))
    for column, width in widths.items():
        ws.column_dimensions[get_column_letter(column)].width = min(max(width + 2, 8), 60)
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if sum(widths.values()) > 90 else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if title_rows:
        ws.print_title_rows = f"1:{title_rows}"
    ws.oddFooter.center.text = PAGE_FOOTER
    ws.evenFooter.center.text = PAGE_FOOTER
