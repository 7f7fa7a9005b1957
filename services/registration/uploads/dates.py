"""Dates as departments write them: 2020-11-10, 2020/11/10, 20201110, 2020年11月10日 …"""

from __future__ import annotations

import datetime as dt
import re

_SEPARATED = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


class InvalidDate(ValueError):
    pass


def parse_date(text: str) -> dt.date:
    """Parse one date; time parts ('2020-11-10 00:00:00') are dropped.

    A bare number between 20000 and 80000 is read as an Excel serial date (a date cell
    saved as a number). Raises :class:`InvalidDate` with a readable message.
    """
    value = (text or "").strip()
    if not value:
        raise InvalidDate("日期为空")
    value = re.split(r"[ T]\d{1,2}:\d{2}", value)[0].strip()
    match = _SEPARATED.match(value) or _COMPACT.match(value)
    if match:
        year, month, day = (int(g) for g in match.groups())
        try:
            return dt.date(year, month, day)
        except ValueError:
            raise InvalidDate(f"{value} 不是有效日期") from None
    if re.fullmatch(r"\d{5}(\.0+)?", value):
        serial = int(float(value))
        if 20000 <= serial <= 80000:
            return _EXCEL_EPOCH + dt.timedelta(days=serial)
    raise InvalidDate(f"无法识别的日期 {value}（应为 2020-11-10 或 2020年11月10日）")
