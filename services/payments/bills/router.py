"""The bill lookup, built from its specification (services/payments/hotroutes.py), which the
fast lane serves as well."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from services.payments.bills.schemas import Bill, BillLookup
from services.payments.bills.service import BillService
from services.payments.channels import ChannelResponse
from services.payments.deps import BillServiceDep, PrincipalDep
from services.payments.hotroutes import BILL_LOOKUP
from shared.auth import Principal

router = APIRouter(tags=["bills"])
NO_STORE = {"cache-control": "no-store"}


async def answer_lookup(bills: BillService, query: BillLookup,
                        principal: Principal | None) -> ChannelResponse:
    """The answer to a lookup, as bytes: for the route below and the fast lane alike."""
    bill = await bills.lookup(query.id_number, query.plan_year, principal, query.on)
    return ChannelResponse(200, "application/json", bill.json())


async def lookup_bill(body: BillLookup, bills: BillServiceDep,
                      principal: PrincipalDep) -> Response:
    """Statuses: `due` (pay `amount_fen` against `order_no`; `surcharge_fen`, `timing` on_time
    or late, `coverage_start` and a Chinese `explanation` citing the plan say why), `paid`,
    `subsidized` (the government pays it all), `nothing_due`, `not_enrolled`. 404
    `person_not_found` when the ID number is not registered (or, for staff limited to a region,
    not registered there); 409 `plan_year_closed` when the plan year takes no payment on that
    day any more (after `payable_until`); 422 `invalid_id_number` when it is malformed."""
    answer = await answer_lookup(bills, body, principal)
    return Response(answer.body, status_code=answer.status_code, media_type=answer.content_type,
                    headers=NO_STORE)


router.add_api_route(
    BILL_LOOKUP.path, lookup_bill, methods=[BILL_LOOKUP.method], name=BILL_LOOKUP.name,
    response_model=Bill,
    summary="What a person owes if paid today (or on a given day), and the order to pay "
            "against")
