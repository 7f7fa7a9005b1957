"""Who may resolve or refund money in suspense that names no person: the county of the channel
account it arrived on (and nationwide callers); money of an account without a region only
nationwide callers and administrators. Lists still show such items to everyone."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from devtools.testing.tokens import auth_enabled
from services.payments.app import create_app

from .payments_support import BANK, POS, payments_settings

TENGZHOU, PINGYIN = "370481", "370124"


@pytest.fixture(scope="module")
async def secured(infra: TestInfra, tmp_path_factory: pytest.TempPathFactory,
                  ) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    with auth_enabled(Path(tmp_path_factory.mktemp("keys"))) as bearer:
        settings = payments_settings().model_copy(update={"webhook_regions": {BANK: TENGZHOU}})
        app = create_app(infra.settings(consumers_enabled=False, relay_enabled=False), settings)
        async with running_app(app) as client:
            yield client, bearer


async def _unmatched(infra: TestInfra, channel: str) -> int:
    """An open suspense item naming no person (money nobody could be found for)."""
    conn = await asyncpg.connect(infra.database_url)
    try:
        return int(await conn.fetchval(
            """INSERT INTO payments.suspense (channel, channel_txn_id, kind, order_no,
                   amount_fen, reason)
               VALUES ($1, $2, 'payment', $3, 38000, 'unknown_order') RETURNING id""",
            channel, f"T{uuid.uuid4().hex[:16]}", f"X{uuid.uuid4().hex[:10]}"))
    finally:
        await conn.close()


def _staff(bearer: Any, role: str, region: str) -> dict[str, str]:
    return bearer(sub=f"{role}@{region}", role=role, region=region)


async def test_unmatched_money_belongs_to_the_county_of_its_channel_account(
        secured, infra: TestInfra) -> None:  # noqa: ANN001
    client, bearer = secured
    on_bank = await _unmatched(infra, BANK)
    refund = {"action": "refund", "note": "退回"}
    other_county = await client.post(f"/v1/suspense/{on_bank}/resolve", json=refund,
                                     headers=_staff(bearer, "tax_officer", PINGYIN))
    assert other_county.status_code == 403, other_county.text
    assert other_county.json()["error"]["code"] == "forbidden_region"
    assert other_county.json()["error"]["message"] == (
        f"此款项未关联任何人员，属于渠道 {BANK} 账户所在地区 {TENGZHOU}，不在您的地区 {PINGYIN} 内")
    # the other county's reversal of it is refused the same way (the one mechanism for writes)
    reverse = await client.post(f"/v1/suspense/{on_bank}/reverse", json={},
                                headers=_staff(bearer, "medical_insurance_officer", PINGYIN))
    assert reverse.status_code == 403, reverse.text
    # still listed for both counties, with the region of the account it arrived on
    listed = await client.get("/v1/suspense", params={"limit": 1000},
                              headers=_staff(bearer, "tax_officer", PINGYIN))
    item = next(i for i in listed.json() if i["suspense_id"] == on_bank)
    assert item["status"] == "open" and item["account_region"] == TENGZHOU
    own_county = await client.post(f"/v1/suspense/{on_bank}/resolve", json=refund,
                                   headers=_staff(bearer, "tax_officer", TENGZHOU))
    assert own_county.status_code == 200, own_county.text
    assert own_county.json()["status"] == "resolved"


async def test_unmatched_money_of_an_account_without_region_is_for_nationwide_and_admins(
        secured, infra: TestInfra) -> None:  # noqa: ANN001
    client, bearer = secured
    refund = {"action": "refund"}
    first, second = await _unmatched(infra, POS), await _unmatched(infra, POS)
    for region in (TENGZHOU, PINGYIN):
        refused = await client.post(f"/v1/suspense/{first}/resolve", json=refund,
                                    headers=_staff(bearer, "tax_officer", region))
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["message"].startswith(
            f"此款项未关联任何人员，且渠道 {POS} 的账户未指定地区")
    nationwide = await client.post(f"/v1/suspense/{first}/resolve", json=refund,
                                   headers=_staff(bearer, "tax_officer", "000000"))
    assert nationwide.status_code == 200, nationwide.text
    admin = await client.post(f"/v1/suspense/{second}/resolve", json=refund,
                              headers=_staff(bearer, "administrator", PINGYIN))
    assert admin.status_code == 200, admin.text
