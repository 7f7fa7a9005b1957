"""Money is integer fen (1 yuan = 100 fen). Conversions are exact; floats are refused."""

from __future__ import annotations

import re
from decimal import Decimal

_YUAN = re.compile(r"^-?\d+(\.\d{1,2})?$")


class InvalidAmount(ValueError):
    pass


def yuan_to_fen(value: str | int | Decimal) -> int:
    """'400' -> 40000, '0.01' -> 1, Decimal('12.5') -> 1250; '1.234', '1e3', floats are refused."""
    if isinstance(value, float):
        raise InvalidAmount("amounts are never floats; pass a string or Decimal")
    if isinstance(value, bool):
        raise InvalidAmount("not an amount")
    if isinstance(value, int):
        return value * 100
    text = str(value).strip()
    if not _YUAN.match(text):
        raise InvalidAmount(f"{text!r} is not an amount in yuan with at most two decimals")
    fen = Decimal(text) * 100
    return int(fen)


def fen_to_yuan(fen: int) -> str:
    """40000 -> '400.00' (exact, for printing and for channels that speak yuan)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"
