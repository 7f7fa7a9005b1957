from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.payments.bills.service import BillService

router = APIRouter(prefix="/v1/bills", tags=["bills"])


class BillLookup(BaseModel):
    """The ID number travels in the body, never in the URL (URLs end up in logs)."""

    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(min_length=15, max_length=18)
    plan_year: int = Field(ge=2000, le=2100)
    on: dt.date | None = Field(
        None, description="the payment date to answer for (Beijing date); default: today")


@router.post("/lookup", summary="What a person owes if paid today (or on a given day), and the "
             "order to pay against")
async def lookup_bill(body: BillLookup, request: Request) -> Response:
    """Statuses: `due` (pay `amount_fen` against `order_no`; `surcharge_fen`, `timing` on_time
    or late, `coverage_start` and a Chinese `explanation` citing the plan say why), `paid`,
    `subsidized` (the government pays it all), `nothing_due`, `not_enrolled`. 404
    `person_not_found` when the ID number is not registered (or, for staff limited to a region,
    not registered there); 409 `plan_year_closed` when the plan year takes no payment on that
    day any more (after `payable_until`); 422 `invalid_id_number` when it is malformed."""
    state = request.app.state
    bill = await BillService(state.pg, state.vault, state.coverage).lookup(
        body.id_number, body.plan_year, getattr(request.state, "principal", None), body.on)
    return Response(bill.json(), media_type="application/json",
                    headers={"cache-control": "no-store"})
