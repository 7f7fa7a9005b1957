"""Who may resolve or refund money in suspense that names no person: the county of the channel
account it arrived on (and nationwide callers); money of an account without a region only
nationwide callers and administrators. Lists still show such items to everyone. The suspense
and refund lists page by cursor, each page limited to the caller's region."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from devtools.testing.apps import every_page, running_app
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
    listed = await every_page(client, "/v1/suspense", limit=1000,
                              headers=_staff(bearer, "tax_officer", PINGYIN))
    item = next(i for i in listed if i["suspense_id"] == on_bank)
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


async def _pages(client: httpx.AsyncClient, path: str, headers: dict[str, str],
                 limit: int) -> list[list[dict[str, Any]]]:
    """Every page of a list, following next_cursor from the first page to the end."""
    pages, cursor = [], None
    while True:
        r = await client.get(path, headers=headers,
                             params={"limit": limit, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"}, body
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(body["items"]) == limit, body  # only the last page is short
        assert len(pages) < 1000, "next_cursor never ends"


async def test_suspense_and_refunds_page_by_cursor_within_the_callers_region(
        secured, infra: TestInfra) -> None:  # noqa: ANN001
    """Pages of two, followed by next_cursor: together they are the whole list once (no item
    twice, none left out, in id order), and on every page only the caller's county's people and
    money that names nobody, never the other county's."""
    client, bearer = secured
    here, there = uuid.uuid4(), uuid.uuid4()
    made: dict[str, dict[Any, list[int]]] = {"/v1/suspense": {}, "/v1/refunds": {}}
    conn = await asyncpg.connect(infra.database_url)
    try:
        for person, county in ((here, TENGZHOU), (there, PINGYIN)):
            await conn.execute(
                """INSERT INTO payments.persons (person_id, id_number_hash, id_number_masked,
                       name_masked, county_code, township_code, revision)
                   VALUES ($1, $2, '370481********0011', '赵*', $3, $4, 1)""",
                person, uuid.uuid4().hex, county, f"{county}001000")
        # interleaved, the other county's first: a page must neither stop at nor show them
        for n, person in enumerate((there, here, there, here, there, here, here)):
            made["/v1/refunds"].setdefault(person, []).append(await conn.fetchval(
                """INSERT INTO payments.refunds (person_id, plan_year, due_revision, paid_fen,
                       amount_fen, reason)
                   VALUES ($1, 2025, $2, 40000, 100, 'test') RETURNING id""", person, n + 1))
            made["/v1/suspense"].setdefault(person, []).append(await conn.fetchval(
                """INSERT INTO payments.suspense (channel, channel_txn_id, kind, person_id,
                       plan_year, amount_fen, reason)
                   VALUES ($1, $2, 'payment', $3, 2025, 100, 'no_open_order')
                   RETURNING id""", BANK, f"T{uuid.uuid4().hex[:16]}", person))
    finally:
        await conn.close()
    made["/v1/suspense"][None] = [await _unmatched(infra, POS)]  # names nobody: every list
    for path, key in (("/v1/suspense", "suspense_id"), ("/v1/refunds", "id")):
        for region, mine, theirs in ((TENGZHOU, here, there), (PINGYIN, there, here)):
            headers = _staff(bearer, "tax_officer", region)
            pages = await _pages(client, path, headers, limit=2)
            seen = [item[key] for page in pages for item in page]
            assert seen == sorted(set(seen)), (path, region)  # in id order, none twice
            assert set(made[path][mine] + made[path].get(None, [])) <= set(seen), (path, region)
            assert [i for i in seen if i in set(made[path][mine])] == made[path][mine]
            # the caller's own rows alone fill more than one page
            assert sum(1 for page in pages if set(made[path][mine]) & {i[key] for i in page}) >= 2
            for page in pages:
                assert not set(made[path][theirs]) & {i[key] for i in page}, (path, region)
            # no gaps: the pages hold exactly what one large page holds
            whole = await client.get(path, headers=headers, params={"limit": 1000})
            if whole.json()["next_cursor"] is None:
                assert [i[key] for i in whole.json()["items"]] == seen, (path, region)
