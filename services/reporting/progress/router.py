from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.reporting import responses
from services.reporting.deps import PlanCopiesDep, ReadSessionDep
from services.reporting.exports import Table, file_response
from services.reporting.progress import service
from services.reporting.regions import RegionDep
from shared.api_docs import file_responses

router = APIRouter(prefix="/v1", tags=["progress"])


UNIT_NAMES = {"province": "省", "city": "市", "county": "县（市、区）",
              "township": "镇（街道）", "village": "村（社区）"}


def progress_table(data: dict[str, Any]) -> Table:
    return Table(
        title=f"{data['region_name']} {data['plan_year']}年度居民医保参保缴费进度",
        subtitle=f"截至 {data['as_of']}",
        columns=[("rank", "排名"), ("name", UNIT_NAMES[data["level"]]), ("code", "区划代码"),
                 ("target", "任务数"), ("registered", "登记人数"), ("paid", "缴费人数"),
                 ("paid_person", "个人缴费"), ("paid_government", "政府代缴"),
                 ("rate", "完成率（%）"), ("change_since_yesterday", "较昨日新增")],
        rows=data["rows"],
    )


@router.get("/progress", response_model=None,
            responses=file_responses("csv", "xlsx", model=responses.Progress))
async def get_progress(
    request: Request, session: ReadSessionDep, region: RegionDep, plans: PlanCopiesDep,
    plan_year: Annotated[int, Query(ge=2000, le=2100)],
    level: Literal["province", "city", "county", "township", "village"] | None = None,
    as_of: dt.date | None = None,
    format: Literal["json", "csv", "xlsx"] = "json",  # noqa: A002
) -> dict[str, Any] | Response:
    """Progress of the region asked for (the caller's own when none is given), one row per
    unit one rank below it unless `level` says otherwise: a city's counties, a county's
    townships, a township's villages."""
    data = await service.progress(
        session, region=region, plan_year=plan_year, level=level, as_of=as_of,
        plans=plans.catalog)
    if format == "json":
        # plain values already: encoded once, by orjson (the stdlib encoder was a tenth of
        # the county view's time)
        return Response(orjson.dumps(data), media_type="application/json")
    return file_response([progress_table(data)], format)
