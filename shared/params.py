"""Path and query parameters the services share, bounded so that whatever passes validation
also fits the database column it is compared with (an integer outside Postgres's range would
otherwise reach asyncpg and fail there).

    PlanYearPath        int path parameter, 2000..2100 (as every body's plan_year)
    RowIdPath           int path parameter naming a bigserial row: 1..2**63-1
    DateQuery(...)      a date query parameter within DATE_MIN..DATE_MAX (what day arithmetic
                        and time zones can hold: 0001-01-01 or 9999-12-31 answer 422)
    encode_cursor(value) / decode_cursor(cursor, parse=str)
                        opaque paging cursors; anything not handed out answers 422
                        invalid_cursor (not base64, not JSON, not a string, or `parse` refuses)
    row_id(value)       a `parse` for cursors naming a bigserial row (1..2**63-1)
    PG_INT_MAX, PG_BIGINT_MAX
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Path, Query

from shared.errors import Invalid

PG_INT_MAX = 2**31 - 1
PG_BIGINT_MAX = 2**63 - 1
PLAN_YEAR_MIN, PLAN_YEAR_MAX = 2000, 2100

PlanYearPath = Annotated[int, Path(ge=PLAN_YEAR_MIN, le=PLAN_YEAR_MAX,
                                   description="plan year (calendar year of coverage)")]
RowIdPath = Annotated[int, Path(ge=1, le=PG_BIGINT_MAX)]

DATE_MIN, DATE_MAX = dt.date(1900, 1, 1), dt.date(2199, 12, 31)
MAX_CURSOR_LENGTH = 512
T = TypeVar("T")


def DateQuery(default: Any = ..., **kwargs: Any) -> Any:  # noqa: N802 (a Query, named like one)
    """A date query parameter bounded to DATE_MIN..DATE_MAX."""
    return Query(default, ge=DATE_MIN, le=DATE_MAX, **kwargs)  # type: ignore[arg-type]  # dates compare


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def decode_cursor(cursor: str | None, parse: Callable[[str], T] = str) -> T | None:  # type: ignore[assignment]
    """The value `encode_cursor` put in `cursor`, through `parse` (e.g. `uuid.UUID`); None
    for no cursor. Whatever was not handed out answers 422 invalid_cursor."""
    if not cursor:
        return None
    try:
        if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
            raise ValueError("not a cursor")
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(value, str) or "\x00" in value:
            raise ValueError("not a cursor")
        return parse(value)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise Invalid("分页游标无效 (cursor is not one this service handed out)",
                      field="cursor", code="invalid_cursor") from None


def row_id(value: str) -> int:
    """The bigserial row id a cursor names; ValueError for anything else."""
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= PG_BIGINT_MAX:
        raise ValueError("not a row id")
    return int(value)
