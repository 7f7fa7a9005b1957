"""`GET /v1/audit` of every service reads only entries of the caller's region (in SQL, before
paging); nationwide administrators read them all, entries without a region included."""

from __future__ import annotations

import importlib
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
from shared import audit

SERVICES = ("registration", "eligibility", "payments", "reporting")
REGIONS = ("370481", "370481001000", "370124", "000000", None)


@pytest.fixture(scope="module")
async def clients(infra: TestInfra, tmp_path_factory: pytest.TempPathFactory,
                  ) -> AsyncIterator[tuple[dict[str, httpx.AsyncClient], Any]]:
    with auth_enabled(Path(tmp_path_factory.mktemp("keys"))) as bearer:
        running, contexts = {}, []
        try:
            for name in SERVICES:
                app = importlib.import_module(f"services.{name}.app").create_app(
                    infra.settings(consumers_enabled=False, relay_enabled=False))
                ctx = running_app(app)
                running[name] = await ctx.__aenter__()
                contexts.append(ctx)
            yield running, bearer
        finally:
            for ctx in reversed(contexts):
                await ctx.__aexit__(None, None, None)


async def _entries(infra: TestInfra, service: str, action: str) -> None:
    conn = await asyncpg.connect(infra.database_url)
    try:
        for region in REGIONS:
            await audit.record(conn, service, actor=f"clerk@{region}", action=action,
                               resource=f"thing/{region}", role="tax_officer", region=region)
    finally:
        await conn.close()


async def _regions(client: httpx.AsyncClient, bearer: Any, action: str,
                   caller_region: str) -> list[str]:
    r = await client.get("/v1/audit", params={"action": action, "limit": 1000},
                         headers=bearer(sub="admin", role="administrator", region=caller_region))
    assert r.status_code == 200, r.text
    return sorted((e["region"] or "-") for e in r.json()["items"])


async def test_audit_reads_stop_at_the_callers_region(clients, infra: TestInfra) -> None:  # noqa: ANN001
    running, bearer = clients
    for service in SERVICES:
        action = f"test.audit_region.{uuid.uuid4().hex[:8]}"
        await _entries(infra, service, action)
        client = running[service]
        assert await _regions(client, bearer, action, "370481") == ["370481", "370481001000"]
        assert await _regions(client, bearer, action, "370124") == ["370124"], service
        assert await _regions(client, bearer, action, "370481001000") == ["370481001000"]
        assert await _regions(client, bearer, action, "000000") == \
            sorted(r or "-" for r in REGIONS), service


async def test_paging_happens_after_the_region_filter(clients, infra: TestInfra) -> None:  # noqa: ANN001
    running, bearer = clients
    action = f"test.audit_paging.{uuid.uuid4().hex[:8]}"
    await _entries(infra, "payments", action)
    page = await running["payments"].get(
        "/v1/audit", params={"action": action, "limit": 1},
        headers=bearer(sub="admin", role="administrator", region="370124"))
    assert [e["region"] for e in page.json()["items"]] == ["370124"]
    assert page.json()["next_cursor"] is None


async def test_a_provincial_actors_call_is_filed_under_the_region_it_names(clients) -> None:  # noqa: ANN001
    """A province-wide officer reads one township's reminder list (an audited read): the entry
    is filed under that township, so the county's administrator reads it and another county's
    does not; the same officer's call naming no region stays filed under the province."""
    running, bearer = clients
    client = running["reporting"]
    officer = f"province-officer-{uuid.uuid4().hex[:8]}"
    headers = bearer(sub=officer, role="medical_insurance_officer", region="370000")
    named = await client.get("/v1/reminders", params={"plan_year": 2025,
                                                      "township_code": "370481001000"},
                             headers=headers)
    assert named.status_code == 200, named.text
    unnamed = await client.get("/v1/reminders", params={"plan_year": 2025}, headers=headers)
    assert unnamed.status_code == 200, unnamed.text

    async def seen_by(region: str) -> list[str]:
        r = await client.get("/v1/audit", params={"actor": officer, "limit": 1000},
                             headers=bearer(sub="admin", role="administrator", region=region))
        assert r.status_code == 200, r.text
        return sorted(e["region"] for e in r.json()["items"])

    assert await seen_by("370481") == ["370481001000"]
    assert await seen_by("370124") == []
    assert await seen_by("370000") == ["370000", "370481001000"]
