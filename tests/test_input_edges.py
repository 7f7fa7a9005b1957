"""Regressions for what the OpenAPI fuzzing (tests/test_openapi_fuzz.py) and the security
review found: inputs that passed validation but made the database fail, headers that are not
UTF-8, cursors not handed out, dates at the ends of the calendar answered 500. Each class is
answered 4xx now (an unusable correlation id is replaced)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from sqlalchemy.exc import DBAPIError

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from shared.errors import database_data_error
from shared.idnumber import check_character
from shared.params import encode_cursor

HUGE = 10**30  # beyond int64: asyncpg refuses to encode it, Postgres would overflow


@pytest.fixture(scope="module")
async def apis(infra: TestInfra) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    import importlib

    clients: dict[str, httpx.AsyncClient] = {}
    contexts = []
    try:
        for name in ("registration", "eligibility", "payments", "reporting"):
            app = importlib.import_module(f"services.{name}.app").create_app(
                infra.settings(consumers_enabled=False, relay_enabled=False))
            ctx = running_app(app)
            clients[name] = await ctx.__aenter__()
            contexts.append(ctx)
        yield clients
    finally:
        for ctx in reversed(contexts):
            await ctx.__aexit__(None, None, None)


def _assert_422(r: httpx.Response, code: str) -> None:
    assert r.status_code == 422, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    assert r.json()["error"]["code"] == code, r.text


async def test_integers_outside_the_columns_range_are_refused_at_the_edge(apis) -> None:  # noqa: ANN001
    person = uuid.uuid4()
    for service, method, url in [
        ("registration", "GET", f"/v1/enrollments/{person}/{HUGE}"),
        ("registration", "POST", f"/v1/enrollments/{person}/{2**31}/stop"),
        ("eligibility", "GET", f"/v1/determinations/{person}/{2**40}"),
        ("eligibility", "GET", f"/v1/plans/370481/{2**40}"),
        ("eligibility", "GET", f"/v1/redeterminations/{HUGE}"),
        ("payments", "GET", f"/v1/reconciliations/{2**63}"),
        ("payments", "GET", f"/v1/suspense?limit={HUGE}"),
        ("payments", "GET", f"/v1/refunds?limit={2**63}"),
        ("payments", "POST", f"/v1/refunds/{HUGE}/complete"),
        ("payments", "POST", f"/v1/suspense/{HUGE}/resolve"),
    ]:
        body = {"status": "stopped", "reason": "other"} if "stop" in url else \
            {"reference": "R1"} if "refunds" in url else {"action": "refund"}
        r = await apis[service].request(method, url, json=body if method == "POST" else None)
        _assert_422(r, "invalid_request")
    # the largest bigint still reaches the handler (and finds nothing)
    assert (await apis["payments"].get(f"/v1/reconciliations/{2**63 - 1}")).status_code == 404


async def test_values_the_database_cannot_hold_are_422_not_500(apis) -> None:  # noqa: ANN001
    reg = apis["registration"]
    day = dt.date(1985, 1, 1) + dt.timedelta(days=int.from_bytes(os.urandom(2), "big") % 5000)
    first17 = f"370481{day:%Y%m%d}{int.from_bytes(os.urandom(2), 'big') % 1000:03d}"
    created = await reg.post("/v1/persons", json={
        "id_number": first17 + check_character(first17), "name": "钱测试",
        "township_code": "370481001000"})
    assert created.status_code == 201, created.text
    person_id = created.json()["person_id"]
    # a NUL character: valid JSON and a valid str, but Postgres text cannot store it
    nul = await reg.patch(f"/v1/persons/{person_id}", json={"school": "一中\x00"})
    _assert_422(nul, "invalid_request")  # refused at the edge as a control character
    assert "\x00" not in nul.text and "一中" not in nul.text  # the value is never echoed
    assert (await reg.get(f"/v1/persons/{person_id}")).json()["school"] is None
    _assert_422(await reg.get("/v1/audit", params={"actor": "a\x00b"}), "invalid_value")
    _assert_422(await reg.get("/v1/persons", params={"village_code": "370481001001",
                                                      "name": "张\x00三"}), "invalid_value")


async def test_an_audit_cursor_that_was_not_handed_out_is_422(apis) -> None:  # noqa: ANN001
    for cursor in ("abc", "１２", "²", "9" * 40, "-1"):
        r = await apis["registration"].get("/v1/audit", params={"cursor": cursor})
        _assert_422(r, "invalid_cursor")
    page = await apis["registration"].get("/v1/audit", params={"limit": 1})
    assert page.status_code == 200
    if page.json()["next_cursor"]:
        r = await apis["registration"].get(
            "/v1/audit", params={"limit": 1, "cursor": page.json()["next_cursor"]})
        assert r.status_code == 200


def test_data_errors_are_told_apart_from_other_database_errors() -> None:
    out_of_range = asyncpg.exceptions.NumericValueOutOfRangeError("integer out of range")
    nul = asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence")
    unique = asyncpg.exceptions.UniqueViolationError("duplicate key")
    assert database_data_error(out_of_range) is out_of_range
    assert database_data_error(nul) is nul
    assert database_data_error(unique) is None
    wrapped = DBAPIError("SELECT 1", {}, Exception("adapted"))
    wrapped.orig.__cause__ = out_of_range  # how SQLAlchemy's asyncpg adapter chains them
    assert database_data_error(wrapped) is out_of_range
    wrapped_unique = DBAPIError("SELECT 1", {}, Exception("adapted"))
    wrapped_unique.orig.__cause__ = unique
    assert database_data_error(wrapped_unique) is None


async def test_an_unusable_correlation_id_is_replaced_on_every_service(apis) -> None:  # noqa: ANN001
    for name, client in apis.items():
        for raw in (b"\xff\xfe\x80", b"caf\xc3\xa9", b"a b", b"x" * 65):
            for path in ("/healthz", "/v1/audit"):
                r = await client.get(path, headers=[(b"x-correlation-id", raw)])
                assert r.status_code < 500, f"{name} {path} {raw!r}: {r.status_code} {r.text}"
                given = r.headers["x-correlation-id"]
                assert given.isascii() and len(given) == 32 and given.encode() != raw, name
        kept = await client.get("/healthz", headers={"x-correlation-id": "req-42.a_b"})
        assert kept.headers["x-correlation-id"] == "req-42.a_b", name


async def test_a_cursor_that_was_not_handed_out_is_422_everywhere(apis) -> None:  # noqa: ANN001
    bad = ("abc", "MTIz", "é", "!!!!", encode_cursor("not-a-uuid"), encode_cursor("1" * 40),
           "eyJhIjoxfQ", "W10")
    # payments' cursors name a bigint row: zero, negative or past the column are not one
    row_ids = (encode_cursor("0"), encode_cursor("-1"), encode_cursor(str(2**63)),
               encode_cursor(" 1"))
    for service, path, params, cursors in (
            ("registration", "/v1/persons", {"village_code": "370481001001"}, bad),
            ("registration", "/v1/duplicates", {"plan_year": 2025}, bad),
            ("registration", "/v1/audit", {}, bad),
            ("payments", "/v1/suspense", {}, bad + row_ids),
            ("payments", "/v1/refunds", {}, bad + row_ids)):
        for cursor in cursors:
            r = await apis[service].get(path, params={**params, "cursor": cursor})
            assert r.status_code == 422, f"{path} {cursor!r}: {r.status_code} {r.text}"
            assert r.json()["error"]["code"] == "invalid_cursor", r.text


async def test_reconciliation_dates_at_the_ends_of_the_calendar_are_422(apis) -> None:  # noqa: ANN001
    pay = apis["payments"]
    for first, last in (("0001-01-01", "2025-01-01"), ("2025-01-01", "9999-12-31"),
                        ("0001-01-01", "9999-12-31")):
        r = await pay.get("/v1/reconciliations/compare",
                          params={"date_from": first, "date_to": last})
        _assert_422(r, "invalid_request")
    for day in ("0001-01-01", "9999-12-31"):
        r = await pay.post("/v1/statements/bank_ccb", params={"date": day}, content=b"x")
        _assert_422(r, "invalid_request")
    ok = await pay.get("/v1/reconciliations/compare", params={"date_from": "2025-01-01",
                                                               "date_to": "2025-01-02"})
    assert ok.status_code == 200, ok.text
    assert (ok.json()["date_from"], ok.json()["date_to"]) == ("2025-01-01", "2025-01-02")
    reversed_ = await pay.get("/v1/reconciliations/compare",
                              params={"date_from": "2025-01-02", "date_to": "2025-01-01"})
    assert reversed_.status_code == 422 and reversed_.json()["error"]["field"] == "date_to"
