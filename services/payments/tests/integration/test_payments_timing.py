"""What is owed depends on the payment date, in the bill and in matching alike (Tengzhou 2021,
seed 001, 二(三)): on time 280 yuan covered from 2021-01-01; late, 280 + 550 yuan of government
subsidy paid by the person (全额缴纳包括各级政府补助（资助）资金在内) and covered 30 days after
paying (缴费30日后方可享受); after the last day that still buys coverage, no payment is taken.
Proxy batches are timed by the day the budget line paid."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text

from devtools.testing.apps import every_page

from .payments_support import (
    BANK,
    bank_webhook,
    bill,
    deliver,
    determination,
    lookup,
    new_id_number,
    person_event,
    scalar,
    wait_processed,
)

# eligibility.determination.v1 for an adult under Tengzhou 2021 (as eligibility publishes it)
ADULT_2021: dict[str, Any] = {
    "plan_year": 2021, "standard_fen": 28000, "personal_fen": 28000,
    "coverage_start": "2021-01-01", "on_time_until": "2020-12-20",
    "payable_until": "2021-12-01",
    "late": {"personal_fen": 83000, "surcharge_fen": 55000, "subsidies": [],
             "insured_category": "adult"}}
# 低保 under Tengzhou 2021: the city pays the 280 if paid by 2021-01-20 (政府资助人员可延长1个月)
CITY = [{"rule_id": "hardship_full", "funding_source": "city_finance", "amount_fen": 28000}]
SUBSIDIZED_2021: dict[str, Any] = {**ADULT_2021, "personal_fen": 0, "subsidies": CITY,
                                   "on_time_until": "2021-01-20"}


async def person(engine: Any, settings: Any, terms: dict[str, Any]) -> tuple[str, uuid.UUID]:
    id_number, person_id = new_id_number(), uuid.uuid4()
    await deliver(engine, person_event(settings, id_number, person_id),
                  determination(person_id, revision=1, **terms))
    return id_number, person_id


async def pay(client: httpx.AsyncClient, order: str, amount: int, paid_at: str) -> str:
    txn = f"CCB{uuid.uuid4().hex[:12]}"
    headers, body = bank_webhook(order, txn, amount, paid_at=paid_at)
    r = await client.post(f"/v1/webhooks/{BANK}", content=body, headers=headers)
    assert r.status_code == 204, r.text
    return txn


async def suspense_reasons(client: httpx.AsyncClient, order: str) -> list[str]:
    items = await every_page(client, "/v1/suspense", limit=1000)
    return [i["reason"] for i in items if i["order_no"] == order]


async def test_the_bill_answers_for_the_payment_date(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    id_number, _ = await person(engine, settings, ADULT_2021)
    on_time = await bill(client, id_number, 2021, on="2020-12-01")
    assert (on_time["status"], on_time["amount_fen"], on_time["surcharge_fen"]) == (
        "due", 28000, 0)
    assert (on_time["timing"], on_time["coverage_start"]) == ("on_time", "2021-01-01")
    late = await bill(client, id_number, 2021, on="2021-02-01")
    assert (late["amount_fen"], late["surcharge_fen"], late["timing"]) == (83000, 55000, "late")
    assert late["coverage_start"] == "2021-03-03" and "二(三)" in late["explanation"]
    assert late["order_no"] == on_time["order_no"]  # one order; a past day does not reprice it
    closed = await lookup(client, id_number, 2021, on="2021-12-02")
    assert closed.status_code == 409, closed.text
    err = closed.json()["error"]
    assert err["code"] == "plan_year_closed" and err["payable_until"] == "2021-12-01"
    assert "2021 年度已不再收取" in err["message"]
    # today (2026 or later) the 2021 plan year is long closed
    assert (await lookup(client, id_number, 2021, on=None)).status_code == 409


async def test_matching_checks_the_amount_owed_at_the_payment_date(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    # on time: 280, covered from the plan year's start
    on_id, _ = await person(engine, settings, ADULT_2021)
    order = (await bill(client, on_id, 2021, on="2020-12-01"))["order_no"]
    await pay(client, order, 28000, "2020-12-01T10:00:00+08:00")
    # late: the on-time 280 is not full payment (suspense, as underpayments are); 830 is
    late_id, _ = await person(engine, settings, ADULT_2021)
    late_order = (await bill(client, late_id, 2021, on="2020-12-01"))["order_no"]
    await pay(client, late_order, 28000, "2021-02-01T10:00:00+08:00")
    await wait_processed(engine)
    assert await suspense_reasons(client, late_order) == ["underpaid"]
    assert await scalar(engine, "SELECT status FROM payments.orders WHERE order_no = :o",
                        o=late_order) == "open"
    await pay(client, late_order, 83000, "2021-02-01T10:00:00+08:00")
    # after the last payable day: suspense with the reason, never a payment
    gone_id, _ = await person(engine, settings, ADULT_2021)
    gone_order = (await bill(client, gone_id, 2021, on="2020-12-01"))["order_no"]
    await pay(client, gone_order, 83000, "2022-01-05T10:00:00+08:00")
    await wait_processed(engine)

    rows = {}
    for o in (order, late_order, gone_order):
        async with engine.connect() as conn:
            rows[o] = (await conn.execute(text(
                "SELECT status, amount_fen, coverage_start, timing FROM payments.orders "
                "WHERE order_no = :o"), {"o": o})).one()
    assert (rows[order][0], rows[order][1], rows[order][2].isoformat(), rows[order][3]) == (
        "paid", 28000, "2021-01-01", "on_time")
    assert (rows[late_order][0], rows[late_order][1], rows[late_order][2].isoformat(),
            rows[late_order][3]) == ("paid", 83000, "2021-03-03", "late")
    assert rows[gone_order][0] == "open"
    assert await suspense_reasons(client, gone_order) == ["plan_year_closed"]
    events = {o: await scalar(engine, "SELECT data FROM payments.outbox WHERE event_type = "
                                      "'payments.payment_received.v1' AND subject = :o", o=o)
              for o in (order, late_order)}
    assert (events[order]["timing"], events[order]["amount_fen"]) == ("on_time", 28000)
    assert (events[late_order]["timing"], events[late_order]["amount_fen"],
            events[late_order]["coverage_start"]) == ("late", 83000, "2021-03-03")
    assert events[order]["funding_source"] is None
    paid = await bill(client, late_id, 2021, on="2021-02-01")
    assert (paid["status"], paid["timing"], paid["coverage_start"]) == (
        "paid", "late", "2021-03-03")


async def test_proxy_batches_are_timed_by_their_paid_on(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    _, in_time = await person(engine, settings, SUBSIDIZED_2021)
    _, too_late = await person(engine, settings, SUBSIDIZED_2021)

    def batch(pid: uuid.UUID, paid_on: str) -> dict[str, Any]:
        return {"batch_no": f"CITY-{uuid.uuid4().hex[:8]}", "budget_line": "city_finance",
                "plan_year": 2021, "declared_count": 1, "declared_total_fen": 28000,
                "paid_on": paid_on, "rows": [{"person_id": str(pid), "amount_fen": 28000}]}

    # recorded years later, paid within the extension for subsidized people: on time
    r = await client.post("/v1/proxy-batches", json=batch(in_time, "2021-01-15"))
    assert r.status_code == 201, r.text
    assert r.json()["paid_on"] == "2021-01-15"
    event = await scalar(engine, "SELECT data FROM payments.outbox WHERE event_type = "
                                 "'payments.payment_received.v1' AND data->>'person_id' = :p",
                         p=str(in_time))
    assert (event["timing"], event["funding_source"], event["coverage_start"]) == (
        "on_time", "city_finance", "2021-01-01")
    assert event["paid_at"].startswith("2021-01-15")
    # paid after 2021-01-20: the person is a latecomer, the city's subsidy is not paid
    r = await client.post("/v1/proxy-batches", json=batch(too_late, "2021-01-25"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "proxy_batch_rejected"
    [row] = r.json()["error"]["rows"]
    assert "逾期缴费" in row["reason"] and "2021-01-20" in row["reason"]
    # the date itself is checked: not in the future, not before the collection opened
    for paid_on, code in (("2099-01-01", "paid_on_in_future"),
                          ("2019-06-01", "paid_on_before_collection")):
        r = await client.post("/v1/proxy-batches", json=batch(too_late, paid_on))
        err = r.json()["error"]
        assert (r.status_code, err["code"], err["field"]) == (422, code, "paid_on"), r.text
    assert await scalar(engine, "SELECT count(*) FROM payments.ledger WHERE person_id = :p",
                        p=too_late) == 0


async def test_a_subsidized_latecomer_owes_the_full_cost_and_keeps_the_order(env) -> None:  # type: ignore[no-untyped-def]
    """Tengzhou 2021: 低保 owes nothing on time, 830 yuan after 2021-01-20; a later
    determination with the same outcomes leaves that order open."""
    client, engine, settings = env
    id_number, person_id = await person(engine, settings, SUBSIDIZED_2021)
    on_time = await bill(client, id_number, 2021, on="2021-01-20")
    assert (on_time["status"], on_time["coverage_start"]) == ("subsidized", "2021-01-01")
    late = await bill(client, id_number, 2021, on="2021-01-21")
    assert (late["status"], late["amount_fen"], late["subsidies"]) == ("due", 83000, [])
    await deliver(engine, determination(person_id, revision=2, **SUBSIDIZED_2021))
    assert await scalar(engine, "SELECT status FROM payments.orders WHERE order_no = :o",
                        o=late["order_no"]) == "open"
