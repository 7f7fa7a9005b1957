"""The fast lane (plain ASGI for webhooks and bill lookups) answers exactly as the documented
FastAPI routes do: same statuses, bodies and headers, same access rules, same durable intake,
same answers to errors nobody expected (through the app's own exception handlers), the same
route labels; it serves exactly the routes of its specifications, built from the same
specifications as the FastAPI routes; and group commit stores concurrent webhooks once each."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from contracts.payments import NotificationReceived
from devtools.testing.apps import running_app
from devtools.testing.events import assert_holds
from devtools.testing.infra import TestInfra
from devtools.testing.tokens import auth_enabled
from services.payments.app import create_app
from services.payments.bills.service import BillService
from services.payments.channels import StandardWebhooksAdapter
from services.payments.fastlane import FastLane, build_table
from services.payments.hotroutes import HOT_ROUTES
from shared.db import make_engine

from .payments_support import (
    BANK,
    bank_webhook,
    lookup,
    payments_settings,
    scalar,
    seed_person,
    wait_processed,
)


@pytest.fixture(scope="module")
async def lanes(infra: TestInfra, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[tuple[object, ...]]:
    """Two payments apps on one database, token checks on: the fast lane on and off."""
    context = auth_enabled(Path(tmp_path_factory.mktemp("fastlane-keys")))
    bearer = context.__enter__()
    tokens = {
        "channel": bearer(sub="channel", scopes=("payments:bills",)),
        "other_scope": bearer(sub="finance-system", scopes=("payments:proxy",)),
        "township": bearer(sub="staff", role="township_staff", region="370481001000"),
        "other_township": bearer(sub="staff2", role="township_staff", region="370481002000"),
        "finance": bearer(sub="fin", role="finance_officer", region="370481"),
    }
    settings = infra.settings()
    fast = create_app(settings, payments_settings())
    slow = create_app(infra.settings(consumers_enabled=False, relay_enabled=False),
                      payments_settings().model_copy(update={"fast_lane": False,
                                                             "group_commit": False}))
    engine = make_engine(settings)
    try:
        async with running_app(fast) as f, running_app(slow) as s:
            yield f, s, engine, settings, tokens, fast, slow
    finally:
        await engine.dispose()
        context.__exit__(None, None, None)


def _same(a: httpx.Response, b: httpx.Response) -> None:
    assert (a.status_code, a.content) == (b.status_code, b.content), (a.text, b.text)
    for header in ("content-type", "cache-control", "www-authenticate"):
        assert a.headers.get(header) == b.headers.get(header), header


async def test_bill_lookups_answer_as_the_fastapi_route(lanes) -> None:  # type: ignore[no-untyped-def]
    fast, slow, engine, settings, tokens, *_ = lanes
    owes, _ = await seed_person(engine, settings)
    free, _ = await seed_person(engine, settings, personal_fen=0, subsidies=[
        {"rule_id": "mla", "funding_source": "medical_assistance_fund", "amount_fen": 40000}])
    channel = tokens["channel"]
    first = await lookup(fast, owes, headers=channel)
    assert first.status_code == 200 and first.json()["status"] == "due"
    json_ = {"content-type": "application/json"}
    ok = {"id_number": owes, "plan_year": 2025, "on": "2024-12-01"}
    cases: list[tuple[object, dict[str, str]]] = [
        (ok, channel),                                            # due (order already issued)
        ({"plan_year": 2025, "on": "2024-12-01", "id_number": owes}, channel),  # any key order
        ({**ok, "on": "2025-02-01"}, channel),                    # late: same order, late amount
        ({**ok, "on": None}, channel),                            # today: the year is closed, 409
        ({**ok, "id_number": free}, channel),                     # subsidized
        ({**ok, "id_number": "11010519491231002X"}, channel),     # not registered: 404
        ({**ok, "id_number": "110105194912310021"}, channel),     # bad check character: 422
        ({"id_number": owes}, channel),                           # missing plan_year: FastAPI's 422
        ({**ok, "plan_year": 1999}, channel),                     # out of range
        ({**ok, "plan_year": "2025"}, channel),                   # a string: FastAPI's answer
        ({**ok, "on": "2024-13-01"}, channel),                    # not a date
        ({**ok, "extra": 1}, channel),                            # extra field
        ({**ok, "id_number": "1234"}, channel),                   # too short
        (b"not json", channel),                                   # not JSON
        ([1, 2], channel),                                        # not an object
        (ok, {}),                                                 # no token: 401
        (ok, {"authorization": "Bearer x.y.z"}),                  # bad token
        (ok, tokens["other_scope"]),                              # wrong scope: 403
        (ok, tokens["township"]),                                 # staff role allowed
        (ok, tokens["finance"]),                                  # role not allowed: 403
        (ok, tokens["other_township"]),                           # not theirs: 404
    ]
    statuses = []
    for body, headers in cases:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        a = await fast.post("/v1/bills/lookup", content=content, headers={**json_, **headers})
        b = await slow.post("/v1/bills/lookup", content=content, headers={**json_, **headers})
        _same(a, b)
        statuses.append(a.status_code)
    assert statuses == [200, 200, 200, 409, 200, 404, 422, 422, 422, 200, 422, 422, 422, 422,
                        422, 401, 401, 403, 200, 403, 404]


async def test_webhooks_answer_as_the_fastapi_route(lanes) -> None:  # type: ignore[no-untyped-def]
    fast, slow, engine, settings, tokens, *_ = lanes
    id_number, _ = await seed_person(engine, settings)
    order = (await lookup(fast, id_number, headers=tokens["channel"])).json()["order_no"]
    headers, body = bank_webhook(order, f"CCB{uuid.uuid4().hex[:12]}", 40000)
    bad_headers = {**headers, "webhook-signature": "v1,AAAA"}
    for path, hdrs in ((f"/v1/webhooks/{BANK}", headers),       # accepted, then a replay
                       (f"/v1/webhooks/{BANK}", bad_headers),    # bad signature
                       ("/v1/webhooks/nosuchbank", headers),     # unknown channel
                       ("/v1/webhooks/wechatpay", headers),      # not a WeChat Pay notification
                       ("/v1/webhooks/alipay", headers)):        # nor an Alipay one
        a = await fast.post(path, content=body, headers=hdrs)
        b = await slow.post(path, content=body, headers=hdrs)
        _same(a, b)
    await wait_processed(engine)
    assert await scalar(engine, "SELECT count(*) FROM payments.ledger WHERE order_no = :o",
                        o=order) == 1
    # a path the fast lane does not serve still reaches FastAPI
    assert (await fast.post(f"/v1/webhooks/{BANK}/extra", content=body)).status_code == 404


async def test_concurrent_webhooks_are_stored_once_each_in_shared_batches(lanes) -> None:  # type: ignore[no-untyped-def]
    fast, _, engine, settings, tokens, fast_app, _ = lanes
    orders = []
    for _ in range(40):
        id_number, _ = await seed_person(engine, settings)
        r = await lookup(fast, id_number, headers=tokens["channel"])
        orders.append(r.json()["order_no"])
    webhooks = [bank_webhook(o, f"CCB{uuid.uuid4().hex[:12]}", 40000) for o in orders]
    intake = fast_app.state.payments.intake
    batches_before = intake._committer.batches
    # every webhook twice at once: replays inside one batch and across batches
    answers = await asyncio.gather(*(fast.post(f"/v1/webhooks/{BANK}", content=b, headers=h)
                                     for h, b in webhooks * 2))
    assert [a.status_code for a in answers] == [204] * 80
    assert intake._committer.batches - batches_before < 80  # they did share commits
    await wait_processed(engine)
    stored = await scalar(engine, "SELECT count(*) FROM payments.notifications "
                                  "WHERE normalized->>'order_no' = ANY(:o)", o=orders)
    paid = await scalar(engine, "SELECT count(*) FROM payments.orders WHERE order_no = ANY(:o) "
                                "AND status = 'paid'", o=orders)
    assert stored == 40 and paid == 40
    # the batched intake statement's work-queue events hold to their contract
    async with engine.connect() as conn:
        queued = (await conn.execute(text(
            "SELECT data FROM payments.outbox WHERE event_type = :t AND partition_key = ANY(:o)"),
            {"t": NotificationReceived.TYPE, "o": orders})).scalars().all()
    assert sorted(d["order_no"] for d in queued) == sorted(orders)
    for data in queued:
        assert_holds(NotificationReceived, data)


def _unraised(app: object) -> httpx.AsyncClient:
    """A client that gets the server-error answer instead of the exception (as a channel
    would: the app re-raises it to the server after answering)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app,  # type: ignore[arg-type]
                                                           raise_app_exceptions=False),
                             base_url="http://test")


async def test_unexpected_errors_answer_as_the_fastapi_route(lanes, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An error the handlers did not expect, in a bill lookup or a webhook, answers the same
    JSON error body from the fast lane as from the route (500 internal_error); an error one of
    the app's handlers takes (a value the database refuses: 422 invalid_value) too."""
    fast, _, engine, settings, tokens, fast_app, slow_app = lanes
    id_number, _ = await seed_person(engine, settings)
    order = (await lookup(fast, id_number, headers=tokens["channel"])).json()["order_no"]
    bill = {"id_number": id_number, "plan_year": 2025, "on": "2024-12-01"}
    headers = {"content-type": "application/json", **tokens["channel"]}
    webhook_headers, webhook = bank_webhook(order, f"CCB{uuid.uuid4().hex[:12]}", 40000)

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("something nobody expected")

    def refused(*_: object, **__: object) -> None:
        raise asyncpg.exceptions.NumericValueOutOfRangeError("out of range")

    async def in_lookup(failure: Callable[..., None], *args: object) -> None:
        failure(*args)

    answers = []
    async with _unraised(fast_app) as f, _unraised(slow_app) as s:
        for failure in (boom, refused):
            monkeypatch.setattr(BillService, "lookup", functools.partial(in_lookup, failure))
            monkeypatch.setattr(StandardWebhooksAdapter, "verify_and_parse", failure)
            for path, body, hdrs in (("/v1/bills/lookup", orjson.dumps(bill), headers),
                                     (f"/v1/webhooks/{BANK}", webhook, webhook_headers)):
                a = await f.post(path, content=body, headers=hdrs)
                b = await s.post(path, content=body, headers=hdrs)
                _same(a, b)
                answers.append((a.status_code, a.json()["error"]["code"]))
                if failure is boom:  # in Chinese, or in English when asked for
                    assert a.json()["error"]["message"] == "服务内部错误，已记录；请稍后重试"
                    en = await s.post(path, content=body, headers={**hdrs,
                                                                   "Accept-Language": "en"})
                    assert en.json()["error"]["message"] == (
                        "internal error, logged; try again later")
    assert answers == [(500, "internal_error")] * 2 + [(422, "invalid_value")] * 2


async def test_the_fast_lane_serves_its_specifications_with_the_routes_labels(lanes) -> None:  # type: ignore[no-untyped-def]
    """Every hot route specification has its FastAPI route (same method, template and name,
    the same body model), the fast lane serves exactly those, the access check knows the
    public ones as public, and a call through the fast lane is labelled in the metrics with
    the route's template, as the same call through FastAPI."""
    fast, slow, engine, settings, tokens, fast_app, _ = lanes
    assert any(m.cls is FastLane for m in fast_app.user_middleware)
    table = build_table(fast_app)
    lanes_ = [*table.exact.values(), *table.templated]
    assert sorted((lane.spec.method, lane.spec.path) for lane in lanes_) == sorted(
        (r.method, r.path) for r in HOT_ROUTES)
    public = fast_app.state.access_control.public_paths
    for lane in lanes_:
        route, spec = lane.route, lane.spec
        assert (route.path, route.name, spec.method in route.methods) == (
            spec.path, spec.name, True)
        assert (spec.path in public) is spec.public
        body_model = (route.body_field.field_info.annotation if route.body_field is not None
                      else None)
        assert body_model is spec.body

    def count(path: str, status: str) -> float:
        return REGISTRY.get_sample_value("canbao_http_request_seconds_count", {
            "service": "payments", "method": "POST", "route": path, "status": status}) or 0.0

    id_number, _ = await seed_person(engine, settings)
    order = (await lookup(fast, id_number, headers=tokens["channel"])).json()["order_no"]
    headers, body = bank_webhook(order, f"CCB{uuid.uuid4().hex[:12]}", 40000)
    bill = orjson.dumps({"id_number": id_number, "plan_year": 2025, "on": "2024-12-01"})
    for client in (fast, slow):
        before = (count("/v1/webhooks/{channel}", "204"), count("/v1/bills/lookup", "200"))
        assert (await client.post(f"/v1/webhooks/{BANK}", content=body,
                                  headers=headers)).status_code == 204
        assert (await client.post("/v1/bills/lookup", content=bill, headers={
            "content-type": "application/json", **tokens["channel"]})).status_code == 200
        after = (count("/v1/webhooks/{channel}", "204"), count("/v1/bills/lookup", "200"))
        assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
