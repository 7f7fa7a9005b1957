"""Who may exchange files with the tax bureau, reconcile and collect: the roles and regions of
the access rules and the service's own region checks, with real tokens."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from devtools.testing.tokens import auth_enabled
from services.payments.app import create_app
from services.payments.tax import files as f

from .payments_support import payments_settings

TENGZHOU, PINGYIN = "370481", "370124"


@pytest.fixture(scope="module")
async def secured(infra: TestInfra, tmp_path_factory: pytest.TempPathFactory,
                  ) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    with auth_enabled(Path(tmp_path_factory.mktemp("keys"))) as bearer:
        app = create_app(infra.settings(consumers_enabled=False, relay_enabled=False),
                         payments_settings())
        async with running_app(app) as client:
            yield client, bearer


def staff(bearer: Any, role: str, region: str) -> dict[str, str]:
    return bearer(sub=f"{role}@{region}", role=role, region=region)


def empty_file(region: str) -> dict[str, Any]:
    return f.ExchangeFile(f.control(f.PAYMENTS_FILE, 1, region, records=0, total_fen=0),
                          []).as_json()


async def test_roles_and_regions_of_the_tax_routes(secured: Any) -> None:
    client, bearer = secured
    outgoing = "/v1/tax/exchange/outgoing/dues"
    params = {"region_code": TENGZHOU, "plan_year": 2025}
    # the medical insurance bureau pushes; of its own county only; tax may not generate
    assert (await client.post(outgoing, params=params, headers=staff(
        bearer, "medical_insurance_officer", TENGZHOU))).status_code in (200, 201)
    other = await client.post(outgoing, params=params,
                              headers=staff(bearer, "medical_insurance_officer", PINGYIN))
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden_region"
    assert (await client.post(outgoing, params=params, headers=staff(
        bearer, "tax_officer", TENGZHOU))).status_code == 403
    # the tax bureau shares payments for its own county only; a collector or township may not
    wrong_county = await client.post("/v1/tax/exchange/payments", json=empty_file(TENGZHOU),
                                     headers=staff(bearer, "tax_officer", PINGYIN))
    assert wrong_county.status_code == 403
    for role, region in (("township_staff", "370481001000"),
                         ("village_collector", "370481001001")):
        r = await client.post("/v1/tax/exchange/payments", json=empty_file(TENGZHOU),
                              headers=staff(bearer, role, region))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_role"
    # a system caller with the exchange scope
    system = bearer(sub="tax-gateway", scopes=("payments:tax_exchange",))
    r = await client.post("/v1/tax/exchange/payments", json=empty_file(TENGZHOU),
                          headers=system)
    assert r.status_code in (200, 422), r.text  # past the access check
    # resolving a difference needs tax or medical insurance; a supervisor only reads
    r = await client.post("/v1/tax/reconciliations/1/differences/1/resolve",
                          json={"action": "accepted", "reason": "核实无误"},
                          headers=staff(bearer, "supervisor", TENGZHOU))
    assert r.status_code == 403


async def test_collectors_act_for_their_village_only(secured: Any) -> None:
    client, bearer = secured
    township = staff(bearer, "village_collector", "370481001000")  # not a village
    r = await client.post("/v1/collections", headers=township, json={
        "person_id": str(uuid.uuid4()), "plan_year": 2025, "amount_fen": 40000,
        "method": "cash"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "collector_region_not_village"
    r = await client.post("/v1/collections/handovers/JJ1/deposit",
                          headers=staff(bearer, "village_collector", "370481001001"),
                          json={"bank_ref": "B1", "amount_fen": 1, "deposited_on": "2024-12-01"})
    assert r.status_code == 403  # the bank's record is entered by tax or finance, not collectors
