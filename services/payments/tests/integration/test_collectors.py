"""A village collector's day, from Yutai 2024's plan: 五 "已按照相关规定委托镇街、村居、社区等集中
代收", 七 "保险费收缴以银行二维码、微信小程序……等缴费方式为主，现金收取兜底".

Against the real database (tokens, access rules and the payments processor running): receipts
numbered per village and booked at once (the payment event is in the outbox before the request
returns, and reporting's progress counts it), a receipt voided with its reason, a channel
payment for a person the collector already took money from goes to suspense, the daily
hand-over with its totals (one that does not add up is flagged), and the bank's deposit record
confirming it short.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from devtools.testing.tokens import auth_enabled
from services.payments.app import create_app
from shared.db import make_engine

from .payments_support import (
    BANK,
    bank_webhook,
    deliver,
    determination,
    new_id_number,
    payments_settings,
    person_event,
    scalar,
    wait_processed,
)
from .test_payments_reversals import reporting_sees

VILLAGE, OTHER_VILLAGE = "370481001001", "370481001002"
DAY = "2024-12-01"


@pytest.fixture(scope="module")
async def secured(infra: TestInfra, tmp_path_factory: pytest.TempPathFactory
                  ) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncEngine, Any, Any]]:
    with auth_enabled(Path(tmp_path_factory.mktemp("keys"))) as bearer:
        settings = infra.settings()
        app = create_app(settings, payments_settings())
        engine = make_engine(settings)
        async with running_app(app) as client:
            yield client, engine, settings, bearer
        await engine.dispose()


async def villager(engine: AsyncEngine, settings: Any, village: str = VILLAGE
                   ) -> tuple[str, uuid.UUID]:
    id_number, person_id = new_id_number(), uuid.uuid4()
    person = person_event(settings, id_number, person_id)
    person.data["village_code"] = village
    await deliver(engine, person, determination(person_id, revision=1, village_code=village))
    return id_number, person_id


def collector(bearer: Any, name: str, village: str = VILLAGE) -> dict[str, str]:
    return bearer(sub=f"{name}@{village}", role="village_collector", region=village)


def take(id_number: str, method: str = "cash", amount: int = 40000, at: str = "10:00"
         ) -> dict[str, Any]:
    body: dict[str, Any] = {"id_number": id_number, "plan_year": 2025, "amount_fen": amount,
                            "method": method, "collected_at": f"{DAY}T{at}:00+08:00"}
    if method == "qr":
        body["qr_txn_id"] = f"QR{uuid.uuid4().hex[:12]}"
    return body


async def test_a_collectors_day_voided_receipt_handover_and_short_deposit(secured: Any) -> None:
    """Three receipts (cash, QR, cash); the third voided with its reason; the person paid by
    the collector pays again through the bank the same day: suspense, paid once; the hand-over
    counts the two kept receipts; the bank confirms 100 yuan short."""
    client, engine, settings, bearer = secured
    me = collector(bearer, "wang")
    (id_a, a), (id_b, b), (id_c, c) = [await villager(engine, settings) for _ in range(3)]

    r1 = await client.post("/v1/collections", json=take(id_a), headers=me)
    assert r1.status_code == 201, r1.text
    first = r1.json()
    assert first["outcome"] == "paid" and first["receipt_no"].startswith(f"SJ{VILLAGE}")
    # booked at once: the order is paid and the payment event waits in the outbox
    order_a = await scalar(engine, "SELECT order_no FROM payments.orders WHERE person_id = :p "
                                   "AND status = 'paid' AND channel = 'village_collector'", p=a)
    assert order_a is not None
    events = await scalar(engine, "SELECT jsonb_agg(jsonb_build_array(event_type, data)) FROM "
                                  "payments.outbox WHERE subject = :o", o=order_a)
    assert [e[1]["channel"] for e in events] == ["village_collector"]
    seen = await reporting_sees(engine, [(e[0], e[1]) for e in events], a)
    assert seen[-1][2] == 1  # the township's paid count moved by one

    second = (await client.post("/v1/collections", json=take(id_b, "qr", at="11:00"),
                                headers=me)).json()
    third = (await client.post("/v1/collections", json=take(id_c, at="12:00"),
                               headers=me)).json()
    numbers = [int(x["receipt_no"][-7:]) for x in (first, second, third)]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]

    # a collector of another village may not take money for these people
    other = collector(bearer, "li", OTHER_VILLAGE)
    r = await client.post("/v1/collections", json=take(id_a), headers=other)
    assert r.status_code == 403

    # voids: only with a reason, only by its collector
    no_reason = await client.post(f"/v1/collections/{third['receipt_no']}/void", json={},
                                  headers=me)
    assert no_reason.status_code == 422
    not_mine = await client.post(f"/v1/collections/{third['receipt_no']}/void",
                                 json={"reason": "代他人作废"}, headers=collector(bearer, "zhao"))
    assert not_mine.status_code == 404
    voided = await client.post(f"/v1/collections/{third['receipt_no']}/void",
                               json={"reason": "收款人员选错，重新开具"}, headers=me)
    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "voided" and voided.json()["outcome"] == "reversed"
    assert await scalar(engine, "SELECT count(*) FROM payments.orders WHERE person_id = :p "
                                "AND status = 'paid'", p=c) == 0

    # A pays again through the bank the same day: paid once, the bank's money in suspense
    txn = f"CCB{uuid.uuid4().hex[:12]}"
    headers, body = bank_webhook(order_a, txn, 40000, paid_at=f"{DAY}T15:00:00+08:00")
    assert (await client.post(f"/v1/webhooks/{BANK}", content=body,
                              headers=headers)).status_code == 204
    await wait_processed(engine)
    assert await scalar(engine, "SELECT reason FROM payments.suspense WHERE channel_txn_id = :t",
                        t=txn) == "paid_twice"
    assert await scalar(engine, "SELECT count(*) FROM payments.orders WHERE person_id = :p "
                                "AND status = 'paid'", p=a) == 1

    # the hand-over: two receipts kept (800 yuan: 400 cash, 400 QR), one voided
    handover = await client.post("/v1/collections/handovers", headers=me, json={
        "day": DAY, "declared_count": 2, "declared_total_fen": 80000})
    assert handover.status_code == 201, handover.text
    h = handover.json()
    assert (h["receipt_count"], h["total_fen"], h["cash_fen"], h["qr_fen"], h["voided_count"],
            h["flagged"]) == (2, 80000, 40000, 40000, 1, False)
    late_void = await client.post(f"/v1/collections/{first['receipt_no']}/void",
                                  json={"reason": "已解缴后作废"}, headers=me)
    assert late_void.status_code == 409
    again = await client.post("/v1/collections/handovers", headers=me, json={
        "day": DAY, "declared_count": 0, "declared_total_fen": 0})
    assert again.status_code == 409

    # the bank's deposit record: 700 yuan arrived for 800 handed over
    tax = bearer(sub="tax@370481", role="tax_officer", region="370481")
    dep = await client.post(f"/v1/collections/handovers/{h['handover_no']}/deposit", headers=tax,
                            json={"bank_ref": f"DEP{uuid.uuid4().hex[:10]}", "amount_fen": 70000,
                                  "deposited_on": "2024-12-02"})
    assert dep.status_code == 200, dep.text
    assert dep.json()["status"] == "short" and dep.json()["difference_fen"] == -10000
    listed = (await client.get("/v1/collections/handovers", headers=tax,
                               params={"day": DAY})).json()["items"]
    assert [x["status"] for x in listed if x["handover_no"] == h["handover_no"]] == ["short"]


async def test_a_handover_that_does_not_add_up_is_flagged(secured: Any) -> None:
    """The collector declares 300 yuan for one 400-yuan receipt: recorded, flagged, with the
    difference in Chinese; never silently accepted."""
    client, engine, settings, bearer = secured
    me = collector(bearer, "sun")
    id_a, _ = await villager(engine, settings)
    assert (await client.post("/v1/collections", json=take(id_a), headers=me)).status_code == 201
    r = await client.post("/v1/collections/handovers", headers=me, json={
        "day": DAY, "declared_count": 1, "declared_total_fen": 30000})
    assert r.status_code == 201
    h = r.json()
    assert h["flagged"] is True and "相差 -100.00 元" in h["problems"][0]
    assert "已标记待核查" in h["status_zh"]
    mine = (await client.get("/v1/collections/handovers", headers=me)).json()["items"]
    assert [x["flagged"] for x in mine] == [True]


async def test_the_banks_deposit_file_is_applied_whole_or_refused(secured: Any) -> None:
    """The bank's deposit records for many hand-overs: a row naming an unknown hand-over or a
    wrong control total refuses the file (nothing entered); the corrected file confirms the
    hand-over; the same file again changes nothing."""
    client, engine, settings, bearer = secured
    me = collector(bearer, "zhou")
    id_a, _ = await villager(engine, settings)
    assert (await client.post("/v1/collections", json=take(id_a), headers=me)).status_code == 201
    h = (await client.post("/v1/collections/handovers", headers=me, json={
        "day": DAY, "declared_count": 1, "declared_total_fen": 40000})).json()
    assert h["flagged"] is False
    finance = bearer(sub="finance@370481", role="finance_officer", region="370481")
    ref = f"DEP{uuid.uuid4().hex[:10]}"
    row = {"handover_no": h["handover_no"], "bank_ref": ref, "amount_fen": 40000,
           "deposited_on": "2024-12-02"}
    unknown = {**row, "handover_no": "JJ-NONE", "bank_ref": ref + "X"}
    r = await client.post("/v1/collections/deposits", headers=finance, json={
        "declared_count": 2, "declared_total_fen": 80000, "deposits": [row, unknown]})
    assert r.status_code == 422, r.text
    assert [x["row"] for x in r.json()["error"]["rows"]] == [2]
    assert "没有解缴单 JJ-NONE" in r.json()["error"]["rows"][0]["reasons"][0]
    r = await client.post("/v1/collections/deposits", headers=finance, json={
        "declared_count": 1, "declared_total_fen": 30000, "deposits": [row]})
    assert r.status_code == 422 and "控制总数不符" in r.json()["error"]["problems"][0]
    assert await scalar(engine, "SELECT status FROM payments.collector_handovers "
                                "WHERE handover_no = :h", h=h["handover_no"]) == "handed_over"
    good = {"declared_count": 1, "declared_total_fen": 40000, "deposits": [row]}
    r = await client.post("/v1/collections/deposits", headers=finance, json=good)
    assert r.status_code == 200 and r.json()["handovers"][0]["status"] == "confirmed", r.text
    again = await client.post("/v1/collections/deposits", headers=finance, json=good)
    assert again.status_code == 200 and again.json()["handovers"][0]["status"] == "confirmed"
    other = {**good, "deposits": [{**row, "bank_ref": ref + "Y"}]}
    assert (await client.post("/v1/collections/deposits", headers=finance,
                              json=other)).status_code == 422
