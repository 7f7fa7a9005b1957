"""Reversals, Alipay partial refunds and late-payment coverage, end to end against the real
database and broker: signed webhooks in, the processor, orders, ledger, suspense, events out
(and reporting's projection of those events)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from devtools.channels.testing import (
    alipay_form,
    alipay_payment_params,
    alipay_refund_params,
    alipay_sign,
)
from devtools.testing.apps import every_page
from services.payments.statements import StatementLine, write_bank_statement
from services.reporting.projections.handlers import router as reporting
from shared.events import CloudEvent
from shared.money import fen_to_yuan

from .payments_support import (
    ALIPAY_APP_ID,
    ALIPAY_SELLER_ID,
    BANK,
    POS,
    POS_SECRET,
    Keys,
    bank_webhook,
    bill,
    deliver,
    determination,
    scalar,
    seed_person,
    wait_processed,
)

REVERSED = "payments.payment_reversed.v1"
RECEIVED = "payments.payment_received.v1"
REFUNDED = "payments.payment_refunded.v1"


async def post_bank(client: httpx.AsyncClient, *args: Any, **kw: Any) -> None:
    headers, body = bank_webhook(*args, **kw)
    r = await client.post(f"/v1/webhooks/{BANK}", content=body, headers=headers)
    assert r.status_code == 204, r.text


async def post_alipay(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    r = await client.post("/v1/webhooks/alipay", content=alipay_form(alipay_sign(params,
                          Keys.alipay)),
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.text == "success", r.text


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def outbox(engine: AsyncEngine, order_no: str) -> list[tuple[str, dict]]:
    return [(r[0], r[1]) for r in await rows(
        engine, "SELECT event_type, data FROM payments.outbox WHERE subject = :o "
                "AND topic = 'payments.payment.v1' ORDER BY seq", o=order_no)]


async def order_status(engine: AsyncEngine, order_no: str) -> str:
    return await scalar(engine, "SELECT status FROM payments.orders WHERE order_no = :o",
                        o=order_no)


async def suspense_of(client: httpx.AsyncClient, txn: str, status: str = "open") -> list[dict]:
    items = await every_page(client, "/v1/suspense", status=status, limit=1000)
    return [i for i in items if i["channel_txn_id"].startswith(txn)]


async def reporting_sees(engine: AsyncEngine, events: list[tuple[str, dict]],
                         person_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """Feed payments' events to reporting's projection (rolled back afterwards); the person's
    (paid_by, paid_fen) and the change of the township's paid_person counter after each
    event."""
    seen = []
    township_paid = text("SELECT coalesce(sum(paid_person), 0) FROM reporting.progress "
                         "WHERE plan_year = 2025 AND township_code = '370481001000'")
    async with engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint",
                               expire_on_commit=False)
        try:
            before = (await session.execute(township_paid)).scalar()
            for event_type, data in events:
                await reporting(session, CloudEvent(source="canbao/payments", type=event_type,
                                                    data=data, partitionkey=str(person_id)))
                person = (await session.execute(text(
                    "SELECT paid_by, paid_fen FROM reporting.person_years "
                    "WHERE person_id = :p AND plan_year = 2025"), {"p": person_id})).one()
                paid = (await session.execute(township_paid)).scalar()
                seen.append((*person, paid - before))
        finally:
            await session.close()
            await outer.rollback()
    return seen


# --- reversals ------------------------------------------------------------------------------


async def test_a_bank_reversal_reverses_the_paid_order_once(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    id_number, person_id = await seed_person(engine, settings)
    order = (await bill(client, id_number))["order_no"]
    txn = f"CCB{uuid.uuid4().hex[:12]}"
    await post_bank(client, order, txn, 40000)
    await wait_processed(engine)
    assert await order_status(engine, order) == "paid"

    # 冲正: the bank reverses the payment; the same reversal notified again under another
    # webhook id is absorbed by the ledger (channel, txn, 'reversal')
    for _ in range(2):
        await post_bank(client, order, txn, 40000, kind="payment.reversed",
                        paid_at="2024-12-01T15:00:00+08:00")
    await wait_processed(engine)
    assert await order_status(engine, order) == "reversed"
    outcomes = [r[0] for r in await rows(
        engine, "SELECT status FROM payments.notifications WHERE normalized->>'order_no' = :o "
                "AND normalized->>'kind' = 'reversal' ORDER BY received_at", o=order)]
    assert sorted(outcomes) == ["duplicate", "reversed"]
    entries = await rows(engine, "SELECT kind, amount_fen, outcome, refers_to FROM payments.ledger "
                                 "WHERE channel = :c AND channel_txn_id = :t ORDER BY id",
                         c=BANK, t=txn)
    assert entries == [("payment", 40000, "applied", None), ("reversal", 40000, "applied", txn)]

    events = await outbox(engine, order)
    assert [e for e, _ in events] == [RECEIVED, REVERSED]
    received, reversed_ = events[0][1], events[1][1]
    assert reversed_["kind"] == "reversed" and reversed_["channel_txn_id"] == txn
    assert reversed_["person_id"] == str(person_id) and reversed_["amount_fen"] == 40000
    assert reversed_["revision"] > received["revision"]
    assert set(reversed_) == set(received)

    # a late replay of the payment changes nothing; the person owes again on a new order
    await post_bank(client, order, txn, 40000)
    await wait_processed(engine)
    assert await order_status(engine, order) == "reversed"
    again = await bill(client, id_number)
    assert again["status"] == "due" and again["order_no"] != order

    # reporting: a reversed payment no longer counts as paid, whatever the order of events
    assert await reporting_sees(engine, events, person_id) == [("person", 40000, 1),
                                                               (None, 0, 0)]
    assert (await reporting_sees(engine, events[::-1], person_id))[-1] == (None, 0, 0)


async def test_a_reversal_before_its_payment_cancels_it_out(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    id_number, _ = await seed_person(engine, settings)
    order = (await bill(client, id_number))["order_no"]
    txn = f"CCB{uuid.uuid4().hex[:12]}"
    await post_bank(client, order, txn, 40000, kind="payment.reversed")
    await wait_processed(engine)
    [item] = await suspense_of(client, txn)
    assert (item["kind"], item["reason"]) == ("reversal", "reversal_of_unknown_payment")
    assert item["detail"] == f"{BANK} 上没有记账的缴费 {txn}：若其到达，两笔相互抵销"

    await post_bank(client, order, txn, 40000)  # the reversed payment arrives afterwards
    await wait_processed(engine)
    assert await order_status(engine, order) == "open"  # never paid: the person still owes
    assert (await bill(client, id_number))["status"] == "due"
    assert await outbox(engine, order) == []
    [resolved] = await suspense_of(client, txn, "resolved")
    assert resolved["resolution"]["action"] == "offset" and resolved["revision"] == 2
    assert resolved["resolution"]["note"].startswith("被冲正的缴费晚于冲正到达")
    assert {r[0] for r in await rows(engine, "SELECT outcome FROM payments.ledger WHERE "
                                             "channel_txn_id = :t", t=txn)} == {"offset"}


async def test_a_reversal_of_a_payment_in_suspense_and_of_a_refunded_order(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    id_number, _ = await seed_person(engine, settings)
    order = (await bill(client, id_number))["order_no"]
    tag = uuid.uuid4().hex[:12]
    # money for an unknown order sits in suspense; the bank reverses it: both cancel out
    await post_bank(client, "CB2025NOSUCH" + tag, "U" + tag, 40000)
    await wait_processed(engine)
    await post_bank(client, "CB2025NOSUCH" + tag, "U" + tag, 40000, kind="payment.reversed")
    await wait_processed(engine)
    [item] = await suspense_of(client, "U" + tag, "resolved")
    assert item["reason"] == "unknown_order" and item["resolution"]["action"] == "offset"

    # paid, refunded in full, then "reversed": the money already went back -> suspense
    await post_bank(client, order, "P" + tag, 40000)
    await post_bank(client, order, "R" + tag, 40000, kind="payment.refunded")
    await wait_processed(engine)
    await post_bank(client, order, "P" + tag, 40000, kind="payment.reversed")
    await wait_processed(engine)
    assert await order_status(engine, order) == "refunded"
    [item] = await suspense_of(client, "P" + tag)
    assert item["reason"] == "reversal_without_payment"
    # a partial reversal is not applied either
    id2, _ = await seed_person(engine, settings)
    order2 = (await bill(client, id2))["order_no"]
    await post_bank(client, order2, "Q" + tag, 40000)
    await wait_processed(engine)
    await post_bank(client, order2, "Q" + tag, 10000, kind="payment.reversed")
    await wait_processed(engine)
    assert await order_status(engine, order2) == "paid"
    assert [i["reason"] for i in await suspense_of(client, "Q" + tag)] == ["partial_reversal"]


async def test_staff_reverse_a_wrong_match_and_match_again(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    wrong_id, wrong = await seed_person(engine, settings)
    right_id, right = await seed_person(engine, settings)
    wrong_order = (await bill(client, wrong_id))["order_no"]
    txn = f"CCB{uuid.uuid4().hex[:12]}"
    await post_bank(client, "CB2025UNREADABLE" + txn, txn, 40000)
    await wait_processed(engine)
    [item] = await suspense_of(client, txn)
    sid = item["suspense_id"]
    r = await client.post(f"/v1/suspense/{sid}/reverse", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_matched"
    r = await client.post(f"/v1/suspense/{sid}/resolve", json={
        "action": "match-to-person", "person_id": str(wrong), "plan_year": 2025})
    assert r.status_code == 200 and r.json()["resolution"]["order_no"] == wrong_order
    assert (await bill(client, wrong_id))["status"] == "paid"

    r = await client.post(f"/v1/suspense/{sid}/reverse",
                          json={"note": "the counter clerk typed the neighbour's ID number"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["revision"], body["resolution"]) == ("open", 3, None)
    assert "typed the neighbour" in body["detail"]
    assert body["detail"].startswith(f"重新挂账：与订单 {wrong_order}")
    assert await order_status(engine, wrong_order) == "reversed"
    assert (await bill(client, wrong_id))["status"] == "due"
    events = await outbox(engine, wrong_order)
    assert [e for e, _ in events] == [RECEIVED, REVERSED]
    assert events[1][1]["person_id"] == str(wrong) and events[1][1]["channel_txn_id"] == txn
    again = await client.post(f"/v1/suspense/{sid}/reverse", json={})
    assert again.status_code == 409

    r = await client.post(f"/v1/suspense/{sid}/resolve", json={
        "action": "match-to-person", "person_id": str(right), "plan_year": 2025})
    assert r.status_code == 200 and r.json()["revision"] == 4
    right_bill = await bill(client, right_id)
    assert right_bill["status"] == "paid"
    # the channel reverses that money later: the order it pays now is reversed
    await post_bank(client, "CB2025UNREADABLE" + txn, txn, 40000, kind="payment.reversed")
    await wait_processed(engine)
    assert await order_status(engine, right_bill["order_no"]) == "reversed"


async def test_a_statement_showing_a_booked_payment_as_failed_reverses_it(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    people = [await seed_person(engine, settings) for _ in range(2)]
    orders = [(await bill(client, i))["order_no"] for i, _ in people]
    tag = uuid.uuid4().hex[:8]
    day = dt.date(2024, 10, 1 + int(tag, 16) % 28)  # a POS statement day no other test uses
    at = dt.datetime.combine(day, dt.time(10), dt.UTC)
    for n in (0, 1):
        h, b = bank_webhook(orders[n], f"{tag}-{n}", 40000, paid_at=at.isoformat(),
                            secret=POS_SECRET)
        assert (await client.post(f"/v1/webhooks/{POS}", content=b, headers=h)).status_code == 204
    await wait_processed(engine)
    csv = write_bank_statement([
        StatementLine(POS, f"{tag}-0", orders[0], "payment", 40000, "succeeded", at),
        StatementLine(POS, f"{tag}-1", orders[1], "payment", 40000, "failed", at)])
    r = await client.post(f"/v1/statements/{POS}", params={"date": day.isoformat()}, content=csv)
    assert r.status_code == 201, r.text
    summary = r.json()
    assert summary["counts"]["matched"] == 1 and summary["counts"]["reversed"] == 1
    assert summary["posted_from_statement"] == 1
    assert summary["totals_match"] is True and summary["clean"] is True
    await wait_processed(engine)
    assert await order_status(engine, orders[1]) == "reversed"
    assert await scalar(engine, "SELECT origin FROM payments.ledger WHERE channel = :c AND "
                                "channel_txn_id = :t AND kind = 'reversal'",
                        c=POS, t=f"{tag}-1") == "statement"
    assert [e for e, _ in await outbox(engine, orders[1])] == [RECEIVED, REVERSED]
    # the collected money of the day: the statement's and the ledger's agree
    cmp = (await client.get("/v1/reconciliations/compare",
                            params={"date_from": day.isoformat(),
                                    "date_to": day.isoformat()})).json()
    assert cmp["channels"][POS]["agrees"] is True
    assert cmp["channels"][POS]["ledger"]["payment"]["total_fen"] == 40000


# --- Alipay partial refunds -----------------------------------------------------------------


def alipay_trade() -> str:
    return f"2024{uuid.uuid4().int % 10**24:024d}"


PAID = dt.datetime(2024, 12, 1, 2, tzinfo=dt.UTC)


async def alipay_paid(client: httpx.AsyncClient, engine: AsyncEngine, settings: Any,
                      paid_at: dt.datetime = PAID) -> tuple[str, str]:
    id_number, _ = await seed_person(engine, settings)
    order = (await bill(client, id_number))["order_no"]
    trade = alipay_trade()
    await post_alipay(client, alipay_payment_params(
        app_id=ALIPAY_APP_ID, seller_id=ALIPAY_SELLER_ID, out_trade_no=order,
        total_amount="400.00", paid_at=paid_at,
        notify_time=dt.datetime.now(dt.UTC), trade_no=trade, notify_id=uuid.uuid4().hex))
    await wait_processed(engine)
    assert await order_status(engine, order) == "paid"
    return order, trade


def refund(order: str, trade: str, total: str, request_no: str, hours: int,
           status: str = "TRADE_SUCCESS", notify_id: str | None = None,
           paid_at: dt.datetime = PAID) -> dict[str, str]:
    return alipay_refund_params(
        app_id=ALIPAY_APP_ID, seller_id=ALIPAY_SELLER_ID, out_trade_no=order,
        total_amount="400.00", refund_fee=total, out_biz_no=request_no, paid_at=paid_at,
        refunded_at=paid_at + dt.timedelta(hours=hours, milliseconds=320),
        notify_time=dt.datetime.now(dt.UTC), trade_no=trade, trade_status=status,
        notify_id=notify_id or uuid.uuid4().hex)


async def refunds_booked(engine: AsyncEngine, trade: str) -> list[tuple[str, int, str]]:
    return [tuple(r) for r in await rows(  # type: ignore[misc]
        engine, "SELECT channel_txn_id, amount_fen, outcome FROM payments.ledger "
                "WHERE channel = 'alipay' AND kind = 'refund' AND refers_to = :t ORDER BY id",
        t=trade)]


async def test_alipay_refund_fee_is_a_running_total(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    order, trade = await alipay_paid(client, engine, settings)
    first = refund(order, trade, "100.00", "RF-1", 1)
    await post_alipay(client, first)
    await post_alipay(client, first)  # Alipay's retry: the same notify_id, stored once
    await post_alipay(client, {**first, "notify_id": uuid.uuid4().hex})  # notified again
    await post_alipay(client, refund(order, trade, "250.00", "RF-2", 2))
    await wait_processed(engine)
    # two partial refunds of one trade: 100.00 and 150.00 (= 250.00 - 100.00)
    assert await refunds_booked(engine, trade) == [(f"{trade}:RF-1", 10000, "suspense"),
                                                   (f"{trade}:RF-2", 15000, "suspense")]
    assert await order_status(engine, order) == "paid"  # partly refunded: still paid
    partial = await suspense_of(client, trade)
    assert [(i["reason"], i["amount_fen"]) for i in partial] == [("partial_refund", 10000),
                                                                 ("partial_refund", 15000)]
    assert [e for e, _ in await outbox(engine, order)] == [RECEIVED]

    # the last refund closes the trade: 400.00 in all, this one 150.00 -> refunded
    await post_alipay(client, refund(order, trade, "400.00", "RF-3", 3, status="TRADE_CLOSED"))
    await wait_processed(engine)
    assert [a for _, a, _ in await refunds_booked(engine, trade)] == [10000, 15000, 15000]
    assert {o for _, _, o in await refunds_booked(engine, trade)} == {"applied"}
    assert await order_status(engine, order) == "refunded"
    events = await outbox(engine, order)
    assert [e for e, _ in events] == [RECEIVED, REFUNDED]
    assert events[1][1]["amount_fen"] == 15000
    assert events[1][1]["channel_txn_id"] == f"{trade}:RF-3"
    assert await suspense_of(client, trade) == []  # the partial refunds are settled
    settled = await suspense_of(client, trade, "resolved")
    assert {i["resolution"]["action"] for i in settled} == {"settled"}


async def test_a_lower_running_total_arriving_late_changes_nothing(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    order, trade = await alipay_paid(client, engine, settings)
    await post_alipay(client, refund(order, trade, "250.00", "RF-2", 2))
    await wait_processed(engine)
    await post_alipay(client, refund(order, trade, "100.00", "RF-1", 1))  # reordered
    await wait_processed(engine)
    assert await refunds_booked(engine, trade) == [(f"{trade}:RF-2", 25000, "suspense"),
                                                   (f"{trade}:RF-1", 0, "superseded")]
    assert await scalar(engine, "SELECT status FROM payments.notifications WHERE "
                                "normalized->>'channel_txn_id' = :k",
                        k=f"{trade}:RF-1") == "superseded"
    await post_alipay(client, refund(order, trade, "400.00", "RF-3", 3, status="TRADE_CLOSED"))
    await wait_processed(engine)
    assert sum(a for _, a, _ in await refunds_booked(engine, trade)) == 40000
    assert await order_status(engine, order) == "refunded"


SAMPLE = Path(__file__).parent.parent / "unit" / "data" / "alipay_business_detail_20241201.csv"


def alipay_statement(lines: list[tuple[str, str, str, int, dt.datetime, str]]) -> bytes:
    """An Alipay business-detail file (GBK) with rows (trade_no, order, 交易|退款, fen, done,
    退款批次号), built on the layout of the sample bill."""
    sample = SAMPLE.read_bytes().decode("gb18030").split("\r\n")
    template = sample[8].split(",")  # the sample's refund row
    china = dt.timezone(dt.timedelta(hours=8))
    out = sample[:5]
    for trade, order, business, fen, done, request_no in lines:
        cells = list(template)
        amount = fen_to_yuan(fen if business == "交易" else -fen)
        cells[0], cells[1], cells[2] = f"{trade}\t", f"{order}\t", f"{business}\t"
        cells[4] = cells[5] = done.astimezone(china).strftime("%Y-%m-%d %H:%M:%S")
        cells[11] = cells[12] = amount
        cells[21] = f"{request_no}\t"
        out.append(",".join(cells))
    pays = [fen for _, _, b, fen, _, _ in lines if b == "交易"]
    refunds = [fen for _, _, b, fen, _, _ in lines if b == "退款"]
    out += [sample[9],
            f"#交易合计：{len(pays)}笔，商家实收共{fen_to_yuan(sum(pays))}元，商家优惠共0.00元",
            f"#退款合计：{len(refunds)}笔，商家实收退款共-{fen_to_yuan(sum(refunds))}元，"
            "商家优惠退款共0.00元", "#导出时间：[2024年09月30日 06:00:00]", ""]
    return "\r\n".join(out).encode("gbk")


async def test_the_alipay_bill_matches_each_partial_refund(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    tag = uuid.uuid4().int
    day = dt.date(2024, 9, 1 + tag % 28)  # an Alipay statement day no other test uses
    paid_at = dt.datetime.combine(day, dt.time(2), dt.UTC)  # 10:00 in Beijing
    order, trade = await alipay_paid(client, engine, settings, paid_at)
    await post_alipay(client, refund(order, trade, "100.00", "RF-1", 1, paid_at=paid_at))
    await post_alipay(client, refund(order, trade, "250.00", "RF-2", 2, paid_at=paid_at))
    await wait_processed(engine)
    bill_file = alipay_statement([
        (trade, order, "交易", 40000, paid_at, ""),
        (trade, order, "退款", 10000, paid_at + dt.timedelta(hours=1), "RF-1"),
        (trade, order, "退款", 15000, paid_at + dt.timedelta(hours=2), "RF-2")])
    r = await client.post("/v1/statements/alipay", params={"date": day.isoformat()},
                          content=bill_file)
    assert r.status_code == 201, r.text
    summary = r.json()
    assert summary["counts"]["matched"] == 3, summary
    assert summary["ledger_totals"] == {"payment_fen": 40000, "refund_fen": 25000, "count": 3}
    assert summary["totals_match"] is True and summary["clean"] is True


async def test_an_alipay_refund_that_an_adjustment_already_booked_is_not_booked_twice(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    order, trade = await alipay_paid(client, engine, settings)
    person_id = await scalar(engine, "SELECT person_id FROM payments.orders WHERE order_no = :o",
                             o=order)
    adj = determination(person_id, revision=9, personal_fen=20000,
                        event_type="eligibility.adjustment_due.v1", paid_fen=40000,
                        refund_due_fen=20000, subsidies=[
        {"rule_id": "age_60_69", "funding_source": "city_finance", "amount_fen": 20000}])
    await deliver(engine, adj)
    due_now = await every_page(client, "/v1/refunds", limit=1000)
    [due] = [r for r in due_now if r["order_no"] == order]
    r = await client.post(f"/v1/refunds/{due['id']}/complete", json={"reference": "RF-ADJ"})
    assert r.status_code == 200
    assert await order_status(engine, order) == "paid"  # partly refunded: still paid
    assert [e for e, _ in await outbox(engine, order)] == [RECEIVED]
    # Alipay then notifies that refund: its running total (200.00) is already booked
    await post_alipay(client, refund(order, trade, "200.00", "RF-ADJ-ALIPAY", 1))
    await wait_processed(engine)
    assert [(a, o) for _, a, o in await refunds_booked(engine, trade)] == [
        (20000, "applied"), (0, "superseded")]


# --- late payment: the waiting period grows with broken enrollment ---------------------------


async def pay_late(client: httpx.AsyncClient, engine: AsyncEngine, id_number: str,
                   paid_at: str) -> tuple[str, dict]:
    order = (await bill(client, id_number))["order_no"]
    await post_bank(client, order, uuid.uuid4().hex, 40000, paid_at=paid_at)
    await wait_processed(engine)
    start, basis = (await rows(engine, "SELECT coverage_start, coverage_basis FROM "
                                       "payments.orders WHERE order_no = :o", o=order))[0]
    ledger_basis = await scalar(engine, "SELECT coverage_basis FROM payments.ledger WHERE "
                                        "order_no = :o AND kind = 'payment'", o=order)
    assert ledger_basis == basis  # recorded with the payment
    events = await outbox(engine, order)
    assert events[0][1]["coverage_start"] == start.isoformat()
    return start.isoformat(), basis


async def test_late_coverage_counts_broken_years_from_the_ledger(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    # Tengzhou 2025 (the national rule from 2025, as the plan file assumes): 2023 and 2024
    # owed and never paid, 2022 not known to payments
    id_number, person_id = await seed_person(engine, settings)
    await deliver(engine, determination(person_id, revision=2, plan_year=2024),
                  determination(person_id, revision=3, plan_year=2023))
    start, basis = await pay_late(client, engine, id_number, "2025-02-01T10:00:00+08:00")
    assert start == "2025-06-01"  # 3 months + 1 for the further broken year
    assert basis["timing"] == "late" and basis["broken_years"] == 2
    assert [(y["plan_year"], y["status"]) for y in basis["history"]] == [
        (2024, "unpaid"), (2023, "unpaid"), (2022, "unknown")]
    assert any("按连续参保计算" in a for a in basis["assumptions"])
    assert [y["note"] for y in basis["history"]][:2] == ["应缴 400.00 元，未缴费"] * 2

    # 2024 paid in its collection period: no broken year, the fixed 3 months
    id2, p2 = await seed_person(engine, settings)
    await deliver(engine, determination(p2, revision=2, plan_year=2024))
    order24 = (await bill(client, id2, 2024))["order_no"]
    await post_bank(client, order24, uuid.uuid4().hex, 40000, paid_at="2023-12-01T10:00:00+08:00")
    await wait_processed(engine)
    start, basis = await pay_late(client, engine, id2, "2025-02-01T10:00:00+08:00")
    assert start == "2025-05-01" and basis["broken_years"] == 0
    assert basis["history"][0]["status"] == "paid"

    # 2023 and 2024 broken, 2024 paid back in 2025 (缴费修复): one month less
    id3, p3 = await seed_person(engine, settings)
    await deliver(engine, determination(p3, revision=2, plan_year=2024),
                  determination(p3, revision=3, plan_year=2023))
    order24 = (await bill(client, id3, 2024))["order_no"]
    await post_bank(client, order24, uuid.uuid4().hex, 40000, paid_at="2025-01-10T10:00:00+08:00")
    await wait_processed(engine)
    start, basis = await pay_late(client, engine, id3, "2025-02-01T10:00:00+08:00")
    assert (start, basis["broken_years"], basis["paid_back_years"]) == ("2025-05-01", 2, 1)
    assert [y["status"] for y in basis["history"]] == ["paid_back", "unpaid", "unknown"]


async def test_in_period_payments_record_their_basis_without_reading_history(env) -> None:  # type: ignore[no-untyped-def]
    client, engine, settings = env
    id_number, _ = await seed_person(engine, settings)
    start, basis = await pay_late(client, engine, id_number, "2024-12-01T10:00:00+08:00")
    assert start == "2025-01-01" and basis["timing"] == "on_time"
    assert "history" not in basis
