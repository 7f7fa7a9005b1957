"""Matching a consumer batch at once (services/payments/matching/batch.py) decides exactly what
matching the same notifications one transaction at a time decides, against the real database:
the same outcome per notification, the same order statuses, ledger outcomes and suspense
reasons, and the same events in the same order with each notification's correlation id; a late
payment's waiting period counts an earlier year paid earlier in the same batch. Also that a
batch of plain payments is matched by a handful of statements, not several per payment."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from contracts.payments import NotificationReceived
from devtools.testing.events import cloud_event
from kernels.policy import PolicyCatalog, parse_policy
from services.payments.coverage import CoverageCalculator
from services.payments.matching.processor import processor
from shared.outbox import Outbox
from shared.plan_copies import PlanCopies
from shared.settings import Settings

from .payments_support import BANK, bill, deliver, determination, seed_person

PAID_AT = "2024-12-01T02:00:00+00:00"


async def _orders(client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings,
                  count: int, personal_fen: int = 40000) -> list[str]:
    orders = []
    for _ in range(count):
        id_number, _person = await seed_person(engine, settings, personal_fen=personal_fen)
        orders.append((await bill(client, id_number))["order_no"])
    return orders


def _note(order_no: str, txn: str, amount_fen: int = 40000, kind: str = "payment",
          status: str = "succeeded", paid_at: str = PAID_AT) -> dict[str, Any]:
    return {"notification_id": str(uuid.uuid4()), "channel": BANK,
            "event_id": f"ev-{uuid.uuid4().hex}", "kind": kind, "channel_txn_id": txn,
            "order_no": order_no, "amount_fen": amount_fen, "paid_at": paid_at,
            "status": status, "origin": "webhook", "refunds_txn_id": None}


async def _store(engine: AsyncEngine, notes: list[dict[str, Any]]) -> None:
    """The notifications as the intake stores them (their status is matching's answer)."""
    async with engine.begin() as conn:
        for n in notes:
            await conn.execute(text(
                """INSERT INTO payments.notifications (id, channel, event_id, headers, body,
                                                       normalized)
                   VALUES (:id, :c, :e, '{}', '', CAST(:n AS jsonb))"""),
                {"id": uuid.UUID(n["notification_id"]), "c": n["channel"], "e": n["event_id"],
                 "n": orjson.dumps(n).decode()})


async def _handler(engine: AsyncEngine) -> Any:
    """The processor's router over the plans payments holds, as the app builds it."""
    copies = PlanCopies("payments", parse_policy, PolicyCatalog)
    await copies.refresh(engine)
    return processor(Outbox("payments"), CoverageCalculator(copies))


async def _apply(engine: AsyncEngine, handler: Any, notes: list[dict[str, Any]], *,
                 together: bool) -> list[str]:
    """Through the processor's router, as the inbox applies a batch: all in one transaction
    (`together`), or each in its own. Each notification has its own correlation id."""
    await _store(engine, notes)
    events = [cloud_event(NotificationReceived.model_validate(n),
                          correlationid=f"corr-{n['channel_txn_id']}-{i}")
              for i, n in enumerate(notes)]
    sessions = async_sessionmaker(engine)
    groups = [events] if together else [[e] for e in events]
    for group in groups:
        async with sessions() as session, session.begin():
            await handler.apply_all(session, group)
    async with engine.connect() as conn:
        status = dict((await conn.execute(text(
            "SELECT id::text, status FROM payments.notifications WHERE id = ANY(:ids)"),
            {"ids": [uuid.UUID(n["notification_id"]) for n in notes]})).all())
    return [status[n["notification_id"]] for n in notes]


async def _state(engine: AsyncEngine, orders: list[str]) -> dict[str, Any]:
    """What matching left for these orders, with the orders named by position."""
    name = {o: f"order{i}" for i, o in enumerate(orders)}
    async with engine.connect() as conn:
        statuses = {name[o]: s for o, s in (await conn.execute(text(
            "SELECT order_no, status FROM payments.orders WHERE order_no = ANY(:o)"),
            {"o": orders})).all()}
        ledger = sorted((name.get(o, "unknown"), t.split("-", 1)[1], k, outcome, amount)
                        for o, t, k, outcome, amount in (await conn.execute(text(
                            "SELECT order_no, channel_txn_id, kind, outcome, amount_fen "
                            "FROM payments.ledger WHERE order_no = ANY(:o)"),
                            {"o": [*orders, *(f"{o}-X" for o in orders)]})).all())
        suspense = sorted((name.get(o, "unknown"), reason) for o, reason in (await conn.execute(
            text("SELECT order_no, reason FROM payments.suspense WHERE order_no = ANY(:o)"),
            {"o": [*orders, *(f"{o}-X" for o in orders)]})).all())
        # correlation ids are corr-<run>-<txn>-<position>: compared by their txn
        # named by the order they are about (a suspense item's subject is the item's id)
        events = [(t, name.get(d.get("order_no"), "unknown"), d.get("amount_fen"),
                   c.split("-")[2] if c else None)
                  for t, s, d, c in (await conn.execute(text(
                      "SELECT event_type, subject, data, correlation_id FROM payments.outbox "
                      "WHERE subject = ANY(:o) OR data->>'order_no' = ANY(:o) ORDER BY seq"),
                      {"o": orders})).all()]
    return {"orders": statuses, "ledger": ledger, "suspense": suspense, "events": events}


def _scenario(orders: list[str], run: str) -> list[dict[str, Any]]:
    """One batch touching each rule the batch must keep in order (transaction ids carry the
    run's name, so both runs book their own money)."""
    o = orders
    return [
        _note(o[0], f"{run}-t0"),                           # pays (together)
        _note(o[1], f"{run}-t1", amount_fen=30000),         # underpaid: suspense (together)
        _note(o[2], f"{run}-t2"),                           # pays (together)
        _note(o[3], f"{run}-t3"),                           # the same money twice in the batch
        _note(o[3], f"{run}-t3"),
        _note(o[4], f"{run}-t4", kind="reversal"),          # reversed before it arrives...
        _note(o[4], f"{run}-t4"),                           # ...so the two cancel out
        _note(o[5], f"{run}-t5"),                           # two payments of one order:
        _note(o[5], f"{run}-t5b"),                          # the second is paid twice
        _note(f"{o[6]}-X", f"{run}-t6"),                    # no such order (together)
        _note(o[7], f"{run}-t7"),                           # pays (together)
        _note(o[8], f"{run}-t8", kind="close", status="closed"),  # closes an open order
        _note(o[9], f"{run}-t9", status="pending"),         # no money moved
        _note(o[10], f"{run}-t10"),                         # pays, then refunded in full
        _note(o[10], f"{run}-r10", kind="refund"),
    ]


EXPECTED = ["paid", "suspense", "paid", "paid", "duplicate", "suspense", "offset", "paid",
            "suspense", "suspense", "paid", "closed", "ignored", "paid", "refunded"]


async def test_a_batch_matches_as_one_at_a_time_does(env: Any) -> None:
    client, engine, settings = env
    results, handler = {}, await _handler(engine)
    for run, together in (("one", False), ("batch", True)):
        orders = await _orders(client, engine, settings, 11)
        outcomes = await _apply(engine, handler, _scenario(orders, run), together=together)
        results[run] = (outcomes, await _state(engine, orders))
    assert results["one"][0] == EXPECTED
    assert results["batch"][0] == EXPECTED
    one, batch = results["one"][1], results["batch"][1]
    assert batch == one
    assert [batch["orders"][f"order{i}"] for i in range(11)] == [
        "paid", "open", "paid", "paid", "open", "paid", "open", "paid", "closed", "open",
        "refunded"]
    assert ("order1", "underpaid") in batch["suspense"]
    assert ("order5", "paid_twice") in batch["suspense"]
    assert ("unknown", "unknown_order") in batch["suspense"]
    received = [e for e in batch["events"] if e[0] == "payments.payment_received.v1"]
    # one event per paid order, in the batch's order, each with its own notification's
    # correlation id
    assert [(s, c) for _, s, _, c in received] == [
        ("order0", "t0"), ("order2", "t2"), ("order3", "t3"), ("order5", "t5"),
        ("order7", "t7"), ("order10", "t10")]


async def test_a_batch_of_plain_payments_takes_a_few_statements(env: Any) -> None:
    client, engine, settings = env
    orders = await _orders(client, engine, settings, 30)
    notes = [_note(o, f"plain-{uuid.uuid4().hex}") for o in orders]
    statements, handler = [], await _handler(engine)

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        outcomes = await _apply(engine, handler, notes, together=True)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert outcomes == ["paid"] * 30
    matching = [s for s in statements if "payments.notifications (id" not in s
                and "status FROM payments.notifications" not in s]
    # inbox-free: lock, book, read orders; mark paid, ledger, events, statuses (one at a time
    # would take 7 per payment: 210)
    assert len(matching) <= 8, matching
    async with engine.connect() as conn:
        paid = (await conn.execute(text(
            "SELECT count(*) FROM payments.orders WHERE order_no = ANY(:o) AND status = 'paid'"),
            {"o": orders})).scalar()
    assert paid == 30


async def test_a_late_payment_counts_an_earlier_year_paid_earlier_in_the_batch(env: Any) -> None:
    """Tengzhou 2025 lengthens the waiting period per further broken year: the 2025 late
    payment reads the person's 2024 and 2023, and the 2024 payment is earlier in the same
    batch (set aside, not yet applied, when the 2025 one is priced)."""
    client, engine, settings = env
    handler, starts = await _handler(engine), {}
    for run, together in (("one", False), ("batch", True)):
        id_number, person_id = await seed_person(engine, settings)
        await deliver(engine, determination(person_id, revision=2, plan_year=2024),
                      determination(person_id, revision=3, plan_year=2023))
        order24 = (await bill(client, id_number, 2024))["order_no"]
        order25 = (await bill(client, id_number))["order_no"]
        outcomes = await _apply(engine, handler, [
            _note(order24, f"{run}-y24", paid_at="2023-12-01T02:00:00+00:00"),
            _note(order25, f"{run}-y25", paid_at="2025-02-01T02:00:00+00:00")],
            together=together)
        assert outcomes == ["paid", "paid"]
        async with engine.connect() as conn:
            start, basis = (await conn.execute(text(
                "SELECT coverage_start, coverage_basis FROM payments.orders WHERE order_no = :o"),
                {"o": order25})).one()
        starts[run] = (start.isoformat(), basis["broken_years"],
                       [(y["plan_year"], y["status"]) for y in basis["history"]])
    # 2024 paid, 2023 owed and unpaid: one broken year, the fixed 3 months
    # 2024 paid in its collection period: enrollment unbroken, the fixed 3 months (were 2024
    # read as unpaid, 2023 and 2024 would be two broken years: 2025-06-01)
    assert starts["batch"] == starts["one"] == ("2025-05-01", 0, [(2024, "paid")])
