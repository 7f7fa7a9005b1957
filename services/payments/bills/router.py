from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.payments.bills.service import BillService

router = APIRouter(prefix="/v1/bills", tags=["bills"])


@router.get("", summary="What a person owes now, and the order to pay against")
async def get_bill(
    request: Request,
    id_number: str = Query(min_length=15, max_length=18),
    plan_year: int = Query(ge=2000, le=2100),
) -> Response:
    """Statuses: `due` (pay `amount_fen` against `order_no`), `paid`, `subsidized` (the
    government pays it all), `nothing_due`, `not_enrolled`. 404 `person_not_found` when the ID
    number is not registered (or, for staff limited to a region, not registered there); 422 `invalid_id_number` when it is malformed."""
    state = request.app.state
    bill = await BillService(state.pg, state.vault).lookup(
        id_number, plan_year, getattr(request.state, "principal", None))
    return Response(bill.json(), media_type="application/json",
                    headers={"cache-control": "no-store"})
