"""One thin slice through the four running services and the real broker:
register and enroll a person -> eligibility determines what they owe -> payments accepts a
signed payment notification for that amount -> reporting counts them as paid in their township."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.testing.infra import TestInfra
from devtools.testing.system import RunningSystem, start_system
from services.payments.channels.standard_webhooks import signed_headers
from shared.auth import ensure_dev_keypair, mint_token
from shared.idnumber import check_character

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_" + base64.b64encode(b"walking-skeleton-test-secret-32b").decode()
TOWNSHIP = "370481001000"  # 荆河街道, Tengzhou
VILLAGE = "370481001001"


KEYS = ROOT / ".canbao" / "test-keys"


def _token(role: str | None, region: str | None = None, scopes: tuple[str, ...] = ()) -> dict[str, str]:
    private_path, _, kid = ensure_dev_keypair(KEYS)
    token = mint_token(Path(private_path).read_bytes(), kid, sub=f"skeleton-{role or 'channel'}",
                       role=role, region=region, scopes=scopes, issuer="canbao", audience="canbao")
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def system(infra: TestInfra) -> AsyncIterator[RunningSystem]:
    ensure_dev_keypair(KEYS)
    env = infra.env() | {
        "CANBAO_PAYMENTS_WEBHOOK_SECRETS": json.dumps({"bank_ccb": [SECRET]}),
        # the real thing: every call below carries a signed token
        "CANBAO_AUTH_ENABLED": "true",
        "CANBAO_JWT_PUBLIC_KEYS_DIR": str(KEYS),
    }
    running = start_system(env, ROOT / ".canbao" / "test-logs" / uuid.uuid4().hex[:6])
    try:
        await running.wait_ready(timeout=90)
        yield running
    finally:
        running.stop()


async def eventually(probe: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"not reached in {timeout}s; last answer: {last!r}")


def new_id_number() -> str:
    """Born 1980 (45 in 2025: no age subsidy), on a random day, so unique in the session."""
    day = dt.date(1980, 1, 1) + dt.timedelta(days=int.from_bytes(os.urandom(2), "big") % 365)
    first17 = "370481" + day.strftime("%Y%m%d") + f"{int.from_bytes(os.urandom(2), 'big') % 1000:03d}"
    return first17 + check_character(first17)


async def test_registered_person_pays_and_is_counted_in_their_township(system: RunningSystem) -> None:
    id_number = new_id_number()
    clerk = _token("township_staff", TOWNSHIP)
    channel = _token(None, scopes=("payments:bills",))
    supervisor = _token("supervisor", "370481")
    async with httpx.AsyncClient(timeout=10) as http:
        unauthenticated = await http.post(f"{system.url('registration')}/v1/persons", json={})
        assert unauthenticated.status_code == 401
        person = await http.post(f"{system.url('registration')}/v1/persons", json={
            "id_number": id_number, "name": "王小明", "township_code": TOWNSHIP,
            "village_code": VILLAGE, "phone": "13812345678"}, headers=clerk)
        assert person.status_code == 201, person.text
        person_id = person.json()["person_id"]
        enrolled = await http.post(f"{system.url('registration')}/v1/enrollments",
                                   json={"person_id": person_id, "plan_year": 2025}, headers=clerk)
        assert enrolled.status_code == 201, enrolled.text

        # eligibility: an adult of 45 under Tengzhou 2025 pays the full 400 yuan
        async def determined() -> dict | None:
            r = await http.get(f"{system.url('eligibility')}/v1/determinations/{person_id}/2025",
                               headers=clerk)
            return r.json() if r.status_code == 200 else None

        determination = await eventually(determined)
        current = determination.get("current", determination)
        assert current["personal_fen"] == 40000

        # reporting: until they pay, they are on their village's reminder list, with the phone
        # in full for the clerk who calls them and masked for the supervisor
        async def reminded(headers: dict[str, str]) -> dict | None:
            r = await http.get(f"{system.url('reporting')}/v1/reminders",
                               params={"village_code": VILLAGE, "plan_year": 2025}, headers=headers)
            rows = [row for row in r.json().get("rows", []) if row["person_id"] == person_id]
            return rows[0] if rows and rows[0]["phone"] else None

        assert (await eventually(lambda: reminded(clerk)))["phone"] == "13812345678"
        assert (await eventually(lambda: reminded(supervisor)))["phone"] == "138****5678"

        async def township_row() -> dict | None:
            r = await http.get(f"{system.url('reporting')}/v1/progress",
                               params={"county_code": "370481", "plan_year": 2025}, headers=supervisor)
            rows = [row for row in r.json()["rows"] if row["code"] == TOWNSHIP] \
                if r.status_code == 200 else []
            return rows[0] if rows else None

        before = await eventually(township_row)  # this person registered, not yet paid

        # payments: the channel looks up the bill and pays it
        async def bill() -> dict | None:
            # the bill as it stands on a day of the 2025 collection period (000 二(三))
            r = await http.post(f"{system.url('payments')}/v1/bills/lookup",
                                json={"id_number": id_number, "plan_year": 2025,
                                      "on": "2024-12-01"}, headers=channel)
            body = r.json() if r.status_code == 200 else None
            return body if body and body.get("amount_fen") == 40000 else None

        due = await eventually(bill)
        assert due["name_masked"] == "王*明"
        assert id_number not in json.dumps(due)
        body = json.dumps({"type": "payment.succeeded", "data": {
            "order_no": due["order_no"], "channel_txn_id": f"CCB{uuid.uuid4().hex[:12]}",
            "amount_fen": 40000, "paid_at": "2024-12-01T02:00:00+00:00"}}).encode()
        headers = signed_headers(SECRET, f"msg_{uuid.uuid4().hex}", int(dt.datetime.now().timestamp()), body)
        accepted = await http.post(f"{system.url('payments')}/v1/webhooks/bank_ccb", content=body,
                                   headers={**headers, "content-type": "application/json"})
        assert accepted.status_code in (200, 204), accepted.text

        # reporting: the township counts this person as paid (one more than before), and they
        # leave their village's reminder list
        async def counted() -> dict | None:
            row = await township_row()
            return row if row and row["paid"] > before["paid"] else None

        township = await eventually(counted)
        assert township["paid"] == before["paid"] + 1
        assert township["registered"] == before["registered"]

        async def not_reminded() -> bool:
            r = await http.get(f"{system.url('reporting')}/v1/reminders",
                               params={"village_code": VILLAGE, "plan_year": 2025}, headers=clerk)
            return r.status_code == 200 and \
                all(row["person_id"] != person_id for row in r.json().get("rows", []))

        assert await eventually(not_reminded)
