"""Payments end to end against the real database and broker: bills, webhooks of the three
channel kinds, matching and suspense, proxy batches, refunds, reconciliation."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from sqlalchemy import text

from contracts.payments import NotificationReceived, PaymentReceived
from devtools.channels.testing import (
    alipay_form,
    alipay_payment_params,
    alipay_sign,
    sign_notification,
    utc,
    wechat_transaction,
)
from devtools.testing.apps import every_page
from devtools.testing.events import assert_holds
from kernels.codes import BUDGET_LINE_NAMES_EN
from services.payments.statements import StatementLine, write_bank_statement

from .payments_support import (
    ALIPAY_APP_ID,
    ALIPAY_SELLER_ID,
    BANK,
    POS,
    POS_SECRET,
    WECHAT_SERIAL,
    Keys,
    bank_webhook,
    bill,
    deliver,
    determination,
    lookup,
    scalar,
    seed_person,
    wait_processed,
)


async def post_bank(client: httpx.AsyncClient, *args: object, **kw: object) -> httpx.Response:
    headers, body = bank_webhook(*args, **kw)  # type: ignore[arg-type]
    return await client.post(f"/v1/webhooks/{BANK}", content=body, headers=headers)


async def test_bill_lookup_answers_every_case(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    owes, _ = await seed_person(engine, settings)
    free, _ = await seed_person(engine, settings, personal_fen=0, subsidies=[
        {"rule_id": "mla", "funding_source": "medical_assistance_fund", "amount_fen": 40000}])
    undetermined, _ = await seed_person(engine, settings, determined=False)

    first = await bill(client, owes)
    assert first["status"] == "due" and first["amount_fen"] == 40000
    assert first["amount_yuan"] == "400.00" and first["name_masked"] == "张*三"
    assert owes not in str(first)
    assert (await bill(client, owes))["order_no"] == first["order_no"]  # one open order
    assert (await bill(client, free))["status"] == "subsidized"
    missing = await bill(client, undetermined)
    assert (missing["status"], missing["reason"]) == (
        "not_enrolled", "本年度没有此人的参保认定：尚未登记参加本年度参保，或登记尚在认定中")
    # a year no plan is held for says so, instead of blaming the person
    unplanned = await bill(client, owes, year=2031)
    assert (unplanned["status"], unplanned["reason"]) == (
        "not_enrolled", "本地区 2031 年度的参保缴费方案尚未发布：暂无此人的参保认定，不能缴费")
    unknown = await lookup(client, "11010519491231002X")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "person_not_found"
    bad = await lookup(client, "110105194912310021")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_id_number"
    # the ID number never goes in a URL: the GET form is gone
    r = await client.get("/v1/bills", params={"id_number": owes, "plan_year": 2025})
    assert r.status_code in (404, 405)


async def test_webhook_pays_once_and_second_channel_goes_to_suspense(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    id_number, person_id = await seed_person(engine, settings)
    order = (await bill(client, id_number))["order_no"]
    txn = f"CCB{uuid.uuid4().hex[:12]}"
    headers, body = bank_webhook(order, txn, 40000)
    for _ in range(2):  # a replay of the same webhook id is answered as success, stored once
        r = await client.post(f"/v1/webhooks/{BANK}", content=body, headers=headers)
        assert r.status_code == 204, r.text
    # the same money notified again under another webhook id: the ledger absorbs it
    assert (await post_bank(client, order, txn, 40000)).status_code == 204
    await wait_processed(engine)
    assert await scalar(engine, "SELECT count(*) FROM payments.notifications "
                                "WHERE normalized->>'order_no' = :o", o=order) == 2
    assert await scalar(engine, "SELECT count(*) FROM payments.ledger WHERE order_no = :o",
                        o=order) == 1
    # the work-queue events the intake statement built hold to their contract, unchanged by it
    async with engine.connect() as conn:
        queued = (await conn.execute(text(
            "SELECT topic, subject, data FROM payments.outbox WHERE event_type = :t "
            "AND partition_key = :o"), {"t": NotificationReceived.TYPE, "o": order})).all()
    assert [(t, s) for t, s, _ in queued] == [(NotificationReceived.TOPIC, order)] * 2
    for *_, data in queued:
        assert_holds(NotificationReceived, data)
    paid = await bill(client, id_number)
    assert paid["status"] == "paid" and paid["coverage_start"] == "2025-01-01"
    assert paid["reason"] == "本年度已缴费"
    event = await scalar(engine, "SELECT data FROM payments.outbox WHERE event_type = "
                                 "'payments.payment_received.v1' AND subject = :o", o=order)
    assert event["person_id"] == str(person_id) and event["kind"] == "paid"
    assert event["payer"] == "person" and event["coverage_start"] == "2025-01-01"
    assert set(event) == {"person_id", "plan_year", "order_no", "channel", "channel_txn_id",
                          "kind", "payer", "amount_fen", "paid_at", "coverage_start",
                          "funding_source", "timing", "county_code", "township_code",
                          "village_code", "revision"}
    assert (event["timing"], event["funding_source"]) == ("on_time", None)
    assert_holds(PaymentReceived, event)

    # a second channel takes the money for the same order: suspense, never a second payment
    h2, b2 = bank_webhook(order, "POS-1-" + txn, 40000, secret=POS_SECRET)
    assert (await client.post(f"/v1/webhooks/{POS}", content=b2, headers=h2)).status_code == 204
    await wait_processed(engine)
    items = await every_page(client, "/v1/suspense")
    mine = [i for i in items if i["order_no"] == order]
    assert [i["reason"] for i in mine] == ["paid_twice"]
    r = await client.post(f"/v1/suspense/{mine[0]['suspense_id']}/resolve",
                          json={"action": "refund", "note": "returned by POS operator"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    again = await client.post(f"/v1/suspense/{mine[0]['suspense_id']}/resolve",
                              json={"action": "refund"})
    assert again.status_code == 409

    # channel refund -> order refunded, payment_refunded event; a late close is a no-op
    assert (await post_bank(client, order, "R" + txn, 40000,
                            kind="payment.refunded")).status_code == 204
    assert (await post_bank(client, order, txn, 40000, kind="payment.closed")).status_code == 204
    await wait_processed(engine)
    assert await scalar(engine, "SELECT status FROM payments.orders WHERE order_no = :o",
                        o=order) == "refunded"
    assert await scalar(engine, "SELECT count(*) FROM payments.outbox WHERE event_type = "
                                "'payments.payment_refunded.v1' AND subject = :o", o=order) == 1


async def test_bad_notifications_are_refused_and_never_stored(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    before = await scalar(engine, "SELECT count(*) FROM payments.notifications")
    now = int(dt.datetime.now(dt.UTC).timestamp())
    headers, body = bank_webhook("CB2025X", "T1", 40000)
    cases = [
        ({**headers, "webhook-signature": "v1," + "A" * 44}, body, 401),  # wrong signature
        (bank_webhook("CB2025X", "T1", 40000, timestamp=now - 3600)[0], body, 401),  # stale
        (headers, body.replace(b"40000", b"40001"), 401),  # tampered body
    ]
    h, b = bank_webhook("CB2025X", "T1", "400.00")  # amount in the wrong format
    cases.append((h, b, 400))
    for h, b, expected in cases:
        r = await client.post(f"/v1/webhooks/{BANK}", content=b, headers=h)
        assert r.status_code == expected, r.text
    assert (await client.post("/v1/webhooks/nosuchbank", content=body,
                              headers=headers)).status_code == 404
    # WeChat Pay: unknown key serial
    resource = wechat_transaction("CB2025X", 40000, utc(2024, 12, 1, 2))
    wh, wb = sign_notification(platform_key=Keys.wechat, serial="PUB_KEY_ID_unknown",
                               apiv3_key=Keys.apiv3, event_type="TRANSACTION.SUCCESS",
                               resource=resource, timestamp=dt.datetime.now(dt.UTC))
    r = await client.post("/v1/webhooks/wechatpay", content=wb, headers=wh)
    assert r.status_code == 401 and r.json()["code"] == "FAIL"
    # Alipay: another app's notification
    params = alipay_payment_params(app_id="2021009999999999", seller_id=ALIPAY_SELLER_ID,
                                   out_trade_no="CB2025X", total_amount="400.00",
                                   paid_at=dt.datetime.now(dt.UTC))
    form = alipay_form(alipay_sign(params, Keys.alipay))
    r = await client.post("/v1/webhooks/alipay", content=form,
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and r.text == "fail"
    assert await scalar(engine, "SELECT count(*) FROM payments.notifications") == before


async def test_wechat_and_alipay_payments_are_applied(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    wid, _ = await seed_person(engine, settings)
    aid, _ = await seed_person(engine, settings, personal_fen=20000)
    worder = (await bill(client, wid))["order_no"]
    aorder = (await bill(client, aid))["order_no"]
    resource = wechat_transaction(worder, 40000, utc(2024, 12, 1, 2),
                                  transaction_id=f"42{uuid.uuid4().int % 10**26:026d}")
    wh, wb = sign_notification(platform_key=Keys.wechat, serial=WECHAT_SERIAL,
                               apiv3_key=Keys.apiv3, event_type="TRANSACTION.SUCCESS",
                               resource=resource, timestamp=dt.datetime.now(dt.UTC))
    assert (await client.post("/v1/webhooks/wechatpay", content=wb, headers=wh)).status_code == 204
    params = alipay_payment_params(app_id=ALIPAY_APP_ID, seller_id=ALIPAY_SELLER_ID,
                                   out_trade_no=aorder, total_amount="200.00",
                                   paid_at=utc(2024, 12, 1, 3),  # in the collection period
                                   notify_time=dt.datetime.now(dt.UTC),
                                   trade_no=f"2024{uuid.uuid4().int % 10**24:024d}",
                                   notify_id=uuid.uuid4().hex)
    r = await client.post("/v1/webhooks/alipay", content=alipay_form(alipay_sign(params,
                          Keys.alipay)),
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.text == "success"
    await wait_processed(engine)
    assert (await bill(client, wid))["status"] == "paid"
    assert (await bill(client, aid))["status"] == "paid"


async def test_amount_change_reissues_order_and_mismatches_go_to_suspense(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    id_number, person_id = await seed_person(engine, settings)
    old = (await bill(client, id_number))["order_no"]
    await deliver(engine, determination(person_id, revision=3, personal_fen=20000, subsidies=[
        {"rule_id": "age_60_69", "funding_source": "city_finance", "amount_fen": 20000}]))
    await deliver(engine, determination(person_id, revision=2, personal_fen=1))  # older: no-op
    now = await bill(client, id_number)
    assert now["amount_fen"] == 20000 and now["order_no"] != old
    assert await scalar(engine, "SELECT status FROM payments.orders WHERE order_no = :o",
                        o=old) == "closed"
    txn = uuid.uuid4().hex[:16]
    assert (await post_bank(client, old, "A" + txn, 40000)).status_code == 204  # closed order
    assert (await post_bank(client, now["order_no"], "B" + txn, 19900)).status_code == 204
    assert (await post_bank(client, "CB2025NOSUCHORDER", "C" + txn, 100)).status_code == 204
    await wait_processed(engine)
    reasons = {i["channel_txn_id"]: i for i in await every_page(client, "/v1/suspense")}
    assert reasons["A" + txn]["reason"] == "no_open_order"
    assert reasons["B" + txn]["reason"] == "underpaid"
    assert reasons["C" + txn]["reason"] == "unknown_order"
    # what staff read of each, in Chinese
    assert reasons["A" + txn]["detail"] == f"订单 {old} 状态为已关闭"
    assert reasons["B" + txn]["detail"].startswith("实缴 199.00 元，应缴 200.00 元（按时缴费，")
    assert reasons["C" + txn]["detail"] == "没有订单 CB2025NOSUCHORDER"
    # staff cannot match 199 yuan to a 200 yuan order ...
    r = await client.post(f"/v1/suspense/{reasons['B' + txn]['suspense_id']}/resolve",
                          json={"action": "match-to-person"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "amount_mismatch"
    # ... nor the old 400 yuan; after another change to 400 yuan it matches
    await deliver(engine, determination(person_id, revision=4, personal_fen=40000))
    r = await client.post(f"/v1/suspense/{reasons['A' + txn]['suspense_id']}/resolve",
                          json={"action": "match-to-person"})
    assert r.status_code == 200, r.text
    assert (await bill(client, id_number))["status"] == "paid"


async def test_late_payment_coverage_comes_from_the_engine(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    id_number, person_id = await seed_person(engine, settings)
    order = (await bill(client, id_number))["order_no"]
    assert (await post_bank(client, order, uuid.uuid4().hex, 40000,
                            paid_at="2025-03-10T10:00:00+08:00")).status_code == 204
    await wait_processed(engine)
    paid = await bill(client, id_number)
    assert paid["status"] == "paid" and paid["coverage_start"] > "2025-01-01"
    event = await scalar(engine, "SELECT data FROM payments.outbox WHERE event_type = "
                                 "'payments.payment_received.v1' AND subject = :o", o=order)
    assert event["coverage_start"] == paid["coverage_start"]


async def test_proxy_batch_checked_whole_against_determinations(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    mla = [{"rule_id": "mla", "funding_source": "medical_assistance_fund", "amount_fen": 40000}]
    _, p1 = await seed_person(engine, settings, personal_fen=0, subsidies=mla)
    _, p2 = await seed_person(engine, settings, personal_fen=0, subsidies=mla)
    _, p3 = await seed_person(engine, settings)
    batch = {"batch_no": f"MAF-{uuid.uuid4().hex[:8]}", "budget_line": "medical_assistance_fund",
             "plan_year": 2025, "declared_count": 3, "declared_total_fen": 120000,
             "paid_on": "2024-12-10",
             "rows": [{"person_id": str(p1), "amount_fen": 40000},
                      {"person_id": str(p2), "amount_fen": 40000},
                      {"person_id": str(p3), "amount_fen": 40000}]}
    r = await client.post("/v1/proxy-batches", json=batch)
    assert r.status_code == 422 and r.json()["error"]["code"] == "proxy_batch_rejected"
    assert [row["row"] for row in r.json()["error"]["rows"]] == [3]
    # each row's reason in the reader's language, the budget line named
    assert r.json()["error"]["rows"][0]["reason"] == "医疗救助资金不资助此人"
    en = await client.post("/v1/proxy-batches", json=batch, headers={"Accept-Language": "en"})
    assert en.json()["error"]["rows"][0]["reason"] == (
        f"{BUDGET_LINE_NAMES_EN['medical_assistance_fund']} pays no subsidy for this person")
    batch.update(declared_count=2, declared_total_fen=90000, rows=batch["rows"][:2])
    r = await client.post("/v1/proxy-batches", json=batch)
    assert r.status_code == 422
    assert r.json()["error"]["problems"] == ["申报总额 900.00 元，各行合计 800.00 元"]
    batch["declared_total_fen"] = 80000
    r = await client.post("/v1/proxy-batches", json=batch)
    assert r.status_code == 201, r.text
    assert await scalar(engine, "SELECT count(*) FROM payments.outbox WHERE data->>'payer' = "
                                "'government' AND data->>'person_id' IN (:a, :b)",
                        a=str(p1), b=str(p2)) == 2
    # one order number per person, so that reporting keeps one payment per person
    assert await scalar(engine, "SELECT count(DISTINCT data->>'order_no') FROM payments.outbox "
                                "WHERE data->>'payer' = 'government' AND data->>'person_id' "
                                "IN (:a, :b)", a=str(p1), b=str(p2)) == 2
    batch["batch_no"] += "-again"  # same subsidies booked twice: refused
    r = await client.post("/v1/proxy-batches", json=batch)
    assert r.status_code == 422 and r.json()["error"]["rows"][0]["reason"] == (
        "医疗救助资金已为此人代缴过该年度")


async def test_adjustment_creates_refund_due_tracked_to_the_end(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    id_number, person_id = await seed_person(engine, settings)
    order = (await bill(client, id_number))["order_no"]
    await post_bank(client, order, uuid.uuid4().hex, 40000)
    await wait_processed(engine)
    adj = determination(person_id, revision=9, personal_fen=0,
                        event_type="eligibility.adjustment_due.v1", paid_fen=40000,
                        refund_due_fen=40000, subsidies=[
        {"rule_id": "mla", "funding_source": "medical_assistance_fund", "amount_fen": 40000}])
    await deliver(engine, adj, adj)
    due = [r for r in await every_page(client, "/v1/refunds")
           if r["person_id"] == str(person_id)]
    assert len(due) == 1 and due[0]["amount_fen"] == 40000 and due[0]["order_no"] == order
    assert due[0]["reason"] == "缴费后认定结果变更：多缴部分应退"
    r = await client.post(f"/v1/refunds/{due[0]['id']}/complete", json={"reference": "RF-1-"
                                                                        + order})
    assert r.status_code == 200 and r.json()["status"] == "completed"
    assert await scalar(engine, "SELECT status FROM payments.orders WHERE order_no = :o",
                        o=order) == "refunded"


async def test_statement_reconciliation_and_carry(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    ids = [await seed_person(engine, settings) for _ in range(4)]
    orders = [(await bill(client, i))["order_no"] for i, _ in ids]
    tag = uuid.uuid4().hex[:8]
    day = dt.date(2024, 11, 3 + int(tag, 16) % 20)  # a day no other test reconciles
    at = dt.datetime.combine(day, dt.time(10), dt.UTC)
    for n in (0, 1, 2):
        await post_bank(client, orders[n], f"{tag}-{n}", 40000, paid_at=at.isoformat())
    await wait_processed(engine)
    line = lambda n, amount: StatementLine(BANK, f"{tag}-{n}", orders[n], "payment",  # noqa: E731
                                           amount, "succeeded", at)
    # 0 matches, 1 differs in amount, 2 is missing (ledger only), 3 was never notified
    csv = write_bank_statement([line(0, 40000), line(1, 39000), line(3, 40000)])
    r = await client.post(f"/v1/statements/{BANK}", params={"date": day.isoformat()},
                          content=csv)
    assert r.status_code == 201, r.text
    counts = r.json()["counts"]
    assert (counts["matched"], counts["amount_mismatch"], counts["channel_only"],
            counts["carried"]) == (1, 1, 1, 1)
    assert r.json()["totals_match"] is False
    assert (await client.post(f"/v1/statements/{BANK}", params={"date": day.isoformat()},
                              content=csv)).status_code == 409
    await wait_processed(engine)
    assert await scalar(engine, "SELECT origin FROM payments.ledger WHERE channel_txn_id = :t",
                        t=f"{tag}-3") == "statement"
    assert (await bill(client, ids[3][0]))["status"] == "paid"
    details = (await client.get(f"/v1/reconciliations/{r.json()['reconciliation_id']}")).json()
    assert {i["result"] for i in details["items"]} == {"matched", "amount_mismatch",
                                                       "channel_only", "carried"}
    # each difference says what it is in Chinese, amounts in yuan
    said = {i["result"]: i["detail"] for i in details["items"]}
    assert said["amount_mismatch"] == "对账单 390.00 元，账本 400.00 元"
    assert said["channel_only"] == "漏收回调：已按对账单入账"
    assert said["carried"] == "尚未出现在对账单上：顺延一天核对" and said["matched"] is None
    # the next day's statement still lacks it: now it is an alert
    nxt = await client.post(f"/v1/statements/{BANK}",
                            params={"date": (day + dt.timedelta(days=1)).isoformat()},
                            content=write_bank_statement([]))
    assert nxt.status_code == 201 and nxt.json()["counts"]["ledger_only"] == 1
    bad = await client.post(f"/v1/statements/{BANK}", content=b"not,a,statement\n")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "statement_invalid"
    # what is wrong, in Chinese by default and in English on request
    assert bad.json()["error"]["message"].startswith("对账单无法使用（第 1 行）：表头应为 ")
    bad_en = await client.post(f"/v1/statements/{BANK}", content=b"not,a,statement\n",
                               headers={"Accept-Language": "en"})
    assert bad_en.json()["error"]["message"].startswith(
        "the statement cannot be used (line 1): the header must be exactly ")
    cmp = (await client.get("/v1/reconciliations/compare",
                            params={"date_from": day.isoformat(),
                                    "date_to": day.isoformat()})).json()
    bank = cmp["channels"][BANK]
    assert bank["statement"]["payment"]["total_fen"] == 119000
    assert bank["ledger"]["payment"]["total_fen"] == 160000
    assert bank["agrees"] is False
