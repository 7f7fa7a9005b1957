"""Text that goes into a spreadsheet cell (CSV or XLSX) written for a person to open.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel,
WPS and LibreOffice as a formula (CSV injection, OWASP): a name or a note typed by anyone
could pull other cells into a link or run a DDE command on the reader's machine. Every
export passes its text through `safe_cell`, which prefixes such a value with an apostrophe,
the convention spreadsheet programs show as plain text. Numbers and dates are written as
numbers and dates (they are not text a person typed) and are left alone.
"""

from __future__ import annotations

from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def safe_cell(value: Any) -> Any:
    """The value unchanged, unless it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_row(values: list[Any] | tuple[Any, ...]) -> list[Any]:
    return [safe_cell(v) for v in values]
