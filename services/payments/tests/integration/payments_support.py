"""Helpers for the payments integration tests: explicit channel settings, seeded persons and
determinations, signed webhooks."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import uuid
from typing import Any

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts import model_for
from contracts.registration import PersonRegistered
from devtools.channels.testing import RsaKeyPair, random_apiv3_key
from devtools.testing.events import cloud_event
from services.payments.channels.standard_webhooks import signed_headers
from services.payments.dues.handlers import router as dues_handlers
from services.payments.settings import PaymentsSettings
from shared.events import CloudEvent
from shared.idnumber import check_character
from shared.pii import vault_for
from shared.settings import Settings

BANK = "bank_ccb"
BANK_SECRET = "whsec_" + base64.b64encode(b"bank-ccb-test-secret-0123456789").decode()
POS = "pos_yunongtong"
POS_SECRET = "whsec_" + base64.b64encode(b"pos-test-secret-abcdefghijklmn").decode()
WECHAT_SERIAL = "PUB_KEY_ID_0114232134912410000000000000"
ALIPAY_APP_ID = "2021004100000001"
ALIPAY_SELLER_ID = "2088000000000001"


class Keys:
    wechat = RsaKeyPair.generate()
    alipay = RsaKeyPair.generate()
    apiv3 = random_apiv3_key()


def payments_settings() -> PaymentsSettings:
    return PaymentsSettings(
        wechatpay_platform_keys={WECHAT_SERIAL: Keys.wechat.public_pem},
        wechatpay_apiv3_key=Keys.apiv3, wechatpay_mchid="1900000109",
        alipay_app_id=ALIPAY_APP_ID, alipay_seller_id=ALIPAY_SELLER_ID,
        alipay_public_key=Keys.alipay.public_pem,
        webhook_secrets={BANK: [BANK_SECRET], POS: [POS_SECRET]}, pool_size=4,
    )


def payments_env() -> dict[str, str]:
    s = payments_settings()
    return {
        "CANBAO_PAYMENTS_WEBHOOK_SECRETS": orjson.dumps(s.webhook_secrets).decode(),
        "CANBAO_PAYMENTS_POOL_SIZE": "4",
    }


def new_id_number(birth: str | None = None, county: str = "370481") -> str:
    """A fresh valid ID number; unique across the test session (other services' tests share
    the database and the topics, and one ID number is one person)."""
    if birth is None:
        day = dt.date(1960, 1, 1) + dt.timedelta(days=int.from_bytes(os.urandom(2), "big") % 10_000)
        birth = day.strftime("%Y%m%d")
    first17 = f"{county}{birth}{int.from_bytes(os.urandom(2), 'big') % 1000:03d}"
    return first17 + check_character(first17)


def person_event(settings: Settings, id_number: str, person_id: uuid.UUID,
                 revision: int = 1, birth_date: str = "1980-01-01") -> CloudEvent:
    return cloud_event(PersonRegistered.model_validate({
        "person_id": str(person_id), "revision": revision, "birth_date": birth_date,
        "sex": "male", "id_number_hash": vault_for(settings).lookup_hash(id_number),
        "id_number_masked": id_number[:6] + "********" + id_number[-4:],
        "name_masked": "张*三", "county_code": "370481", "township_code": "370481001000",
        "village_code": None, "household_id": None}))


def determination(person_id: uuid.UUID, *, revision: int, personal_fen: int = 40000,
                  subsidies: list[dict[str, Any]] | None = None, enrolled: bool = True,
                  plan_year: int = 2025, event_type: str = "eligibility.determination_changed.v1",
                  **extra: Any) -> CloudEvent:
    return cloud_event(model_for(event_type).model_validate({
        "person_id": str(person_id), "plan_year": plan_year, "revision": revision,
        "enrolled": enrolled, "region_code": "370481", "county_code": "370481",
        "township_code": "370481001000", "village_code": None, "policy_version": "v",
        "insured_category": "adult", "standard_fen": 40000, "personal_fen": personal_fen,
        "surcharge_fen": 0, "subsidies": subsidies or [], "coverage_start": "2025-01-01",
        "determined_at": "2024-10-08T10:00:00+00:00", **extra}))


async def deliver(engine: AsyncEngine, *events: CloudEvent) -> None:
    """Apply events through the payments consumer's handler, as the inbox would."""
    from sqlalchemy.ext.asyncio import async_sessionmaker
    async with async_sessionmaker(engine)() as session, session.begin():
        for event in events:
            await dues_handlers(session, event)


async def seed_person(engine: AsyncEngine, settings: Settings, *, personal_fen: int = 40000,
                      subsidies: list[dict[str, Any]] | None = None,
                      determined: bool = True) -> tuple[str, uuid.UUID]:
    id_number, person_id = new_id_number(), uuid.uuid4()
    events = [person_event(settings, id_number, person_id)]
    if determined:
        events.append(determination(person_id, revision=1, personal_fen=personal_fen,
                                    subsidies=subsidies))
    await deliver(engine, *events)
    return id_number, person_id


def bank_webhook(order_no: str, txn: str, amount_fen: Any, *, kind: str = "payment.succeeded",
                 paid_at: str = "2024-12-01T10:00:00+08:00", msg_id: str | None = None,
                 secret: str = BANK_SECRET, timestamp: int | None = None
                 ) -> tuple[dict[str, str], bytes]:
    body = orjson.dumps({"type": kind, "data": {"order_no": order_no, "channel_txn_id": txn,
                                                "amount_fen": amount_fen, "paid_at": paid_at}})
    stamp = timestamp if timestamp is not None else int(dt.datetime.now(dt.UTC).timestamp())
    headers = signed_headers(secret, msg_id or f"msg_{uuid.uuid4().hex}", stamp, body)
    headers["content-type"] = "application/json"
    return headers, body


# the day the tests' channels look bills up and pay (in the 2025 plan year's collection period)
BILL_DAY = "2024-12-01"


async def lookup(client: httpx.AsyncClient, id_number: str, year: int = 2025,
                 on: str | None = BILL_DAY, **kw: Any) -> httpx.Response:
    """POST /v1/bills/lookup (the ID number in the body); `on` None: today."""
    body: dict[str, Any] = {"id_number": id_number, "plan_year": year}
    if on is not None:
        body["on"] = on
    return await client.post("/v1/bills/lookup", json=body, **kw)


async def bill(client: httpx.AsyncClient, id_number: str, year: int = 2025,
               on: str | None = BILL_DAY) -> dict[str, Any]:
    """The channel's due-amount lookup for a payment on `on`; it must answer 200."""
    r = await lookup(client, id_number, year, on)
    assert r.status_code == 200, r.text
    return r.json()


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def wait_processed(engine: AsyncEngine, timeout: float = 20.0) -> None:
    """Until every stored notification went through the processor."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = await scalar(engine, "SELECT count(*) FROM payments.notifications "
                                    "WHERE status = 'received'")
        if left == 0:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{left} notifications still unprocessed")
        await asyncio.sleep(0.1)
