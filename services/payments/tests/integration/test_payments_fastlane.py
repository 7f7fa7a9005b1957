"""The fast lane (plain ASGI for webhooks and bill lookups) answers exactly as the documented
FastAPI routes do: same statuses, bodies and headers, same access rules, same durable intake;
and group commit stores concurrent webhooks once each."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from devtools.testing.tokens import auth_enabled
from services.payments.app import create_app
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
            yield f, s, engine, settings, tokens, fast
    finally:
        await engine.dispose()
        context.__exit__(None, None, None)


def _same(a: httpx.Response, b: httpx.Response) -> None:
    assert (a.status_code, a.content) == (b.status_code, b.content), (a.text, b.text)
    for header in ("content-type", "cache-control", "www-authenticate"):
        assert a.headers.get(header) == b.headers.get(header), header


async def test_bill_lookups_answer_as_the_fastapi_route(lanes) -> None:  # type: ignore[no-untyped-def]
    fast, slow, engine, settings, tokens, _ = lanes
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
    fast, slow, engine, settings, tokens, _ = lanes
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
    fast, _, engine, settings, tokens, fast_app = lanes
    orders = []
    for _ in range(40):
        id_number, _ = await seed_person(engine, settings)
        r = await lookup(fast, id_number, headers=tokens["channel"])
        orders.append(r.json()["order_no"])
    webhooks = [bank_webhook(o, f"CCB{uuid.uuid4().hex[:12]}", 40000) for o in orders]
    intake = fast_app.state.intake
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
