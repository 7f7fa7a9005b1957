"""Path and query parameters the services share, bounded so that whatever passes validation
also fits the database column it is compared with (an integer outside Postgres's range would
otherwise reach asyncpg and fail there).

    PlanYearPath        int path parameter, 2000..2100 (as every body's plan_year)
    RowIdPath           int path parameter naming a bigserial row: 1..2**63-1
    OffsetQuery         int query parameter for paging: 0..2**63-1 (default 0)
    PG_INT_MAX, PG_BIGINT_MAX
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

PG_INT_MAX = 2**31 - 1
PG_BIGINT_MAX = 2**63 - 1
PLAN_YEAR_MIN, PLAN_YEAR_MAX = 2000, 2100

PlanYearPath = Annotated[int, Path(ge=PLAN_YEAR_MIN, le=PLAN_YEAR_MAX,
                                   description="plan year (calendar year of coverage)")]
RowIdPath = Annotated[int, Path(ge=1, le=PG_BIGINT_MAX)]
OffsetQuery = Annotated[int, Query(ge=0, le=PG_BIGINT_MAX)]
