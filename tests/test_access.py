"""Every role against every route of every service: who gets in, who gets 403, and that no
route was left without a rule. Region and department scopes, and the audit log of writes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import ROLES, ensure_dev_keypair, mint_token
from shared.security_settings import get_security_settings
from shared.testing.apps import running_app
from shared.testing.infra import TestInfra

SERVICES = ("registration", "eligibility", "payments", "reporting")
PLACEHOLDERS = {
    "person_id": "00000000-0000-4000-8000-000000000000",
    "household_id": "00000000-0000-4000-8000-000000000000",
    "job_id": "00000000-0000-4000-8000-000000000000",
    "plan_year": "2025",
    "township_code": "370481001000",
    "region_code": "370481",
    "code": "370481",
    "department": "civil_affairs",
    "group_code": "orphan",
    "channel": "bank_ccb",
    "kind": "household_register",
}


def _url(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PLACEHOLDERS.get(m.group(1), "1"), template)


@pytest.fixture(scope="module")
async def secured(infra: TestInfra, tmp_path_factory: pytest.TempPathFactory,
                  ) -> AsyncIterator[tuple[dict[str, FastAPI], dict[str, httpx.AsyncClient], callable]]:
    keys = tmp_path_factory.mktemp("keys")
    private_path, _, kid = ensure_dev_keypair(Path(keys))
    mp = pytest.MonkeyPatch()
    mp.setenv("CANBAO_AUTH_ENABLED", "true")
    mp.setenv("CANBAO_JWT_PUBLIC_KEYS_DIR", str(keys))
    get_security_settings.cache_clear()
    private = Path(private_path).read_bytes()

    def token(role: str | None = None, region: str = "370481", department: str | None = None,
              scopes: tuple[str, ...] = ()) -> dict[str, str]:
        t = mint_token(private, kid, sub=f"test-{role or 'system'}", role=role, region=region,
                       department=department, scopes=scopes, issuer="canbao", audience="canbao")
        return {"authorization": f"Bearer {t}"}

    import importlib
    apps = {s: importlib.import_module(f"services.{s}.app").create_app(
        infra.settings(consumers_enabled=False, relay_enabled=False)) for s in SERVICES}
    clients: dict[str, httpx.AsyncClient] = {}
    contexts = []
    try:
        for name, app in apps.items():
            ctx = running_app(app)
            clients[name] = await ctx.__aenter__()
            contexts.append(ctx)
        yield apps, clients, token
    finally:
        for ctx in reversed(contexts):
            await ctx.__aexit__(None, None, None)
        mp.undo()
        get_security_settings.cache_clear()


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    found = [(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops]
    if any(getattr(r, "path", None) == "/dashboard" for r in app.routes):
        found.append(("GET", "/dashboard"))
    return sorted(found)


async def test_every_route_has_a_rule_or_is_public(secured) -> None:  # noqa: ANN001
    apps, _, _ = secured
    for name, app in apps.items():
        control = app.state.access_control
        for method, path in _routes(app):
            if path in control.public_paths:
                continue
            assert (method, path) in control.rules, f"{name}: {method} {path} has no access rule"


async def test_every_role_against_every_route(secured) -> None:  # noqa: ANN001
    apps, clients, token = secured
    checked = 0
    for name, app in apps.items():
        control = app.state.access_control
        for method, path in _routes(app):
            if path in control.public_paths:
                continue
            rule = control.rules[(method, path)]
            url = _url(path)
            anonymous = await clients[name].request(method, url, json={})
            assert anonymous.status_code == 401, f"{name} {method} {path}: {anonymous.text}"
            assert anonymous.headers["www-authenticate"].startswith("Bearer")
            for role in sorted(ROLES):
                r = await clients[name].request(method, url, json={},
                                                headers=token(role, department="civil_affairs" if role == "department_officer" else None))
                denied = r.status_code == 403
                assert denied == (role not in rule.roles), (
                    f"{name} {method} {path} as {role}: {r.status_code} {r.text[:200]}")
                assert r.status_code < 500, f"{name} {method} {path} as {role}: {r.text[:300]}"
                checked += 1
    assert checked > 300


async def test_township_staff_see_only_their_township(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    staff = token("township_staff", region="370481002000")
    other = await clients["reporting"].get(
        "/v1/progress", params={"county_code": "370481", "plan_year": 2025}, headers=staff)
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden_region"
    theirs = await clients["reporting"].get(
        "/v1/reminders", params={"village_code": "370481002001", "plan_year": 2025}, headers=staff)
    assert theirs.status_code != 403
    neighbour = await clients["reporting"].get(
        "/v1/reminders", params={"village_code": "370481001001", "plan_year": 2025}, headers=staff)
    assert neighbour.status_code == 403


async def test_a_department_uploads_only_its_own_lists(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    officer = token("department_officer", department="civil_affairs")
    r = await clients["registration"].post("/v1/lists/disabled_persons_federation/2025",
                                           headers=officer, files={"file": ("a.csv", b"x")})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_department"


async def test_system_callers_need_the_scope(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    channel = token(None, region=None, scopes=("payments:bills",))
    assert (await clients["payments"].get("/v1/suspense", headers=channel)).status_code == 403
    r = await clients["payments"].get("/v1/bills", params={"id_number": "1", "plan_year": 2025},
                                      headers=channel)
    assert r.status_code != 403


async def test_writes_are_in_the_audit_log_and_only_administrators_read_it(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    admin = token("administrator")
    await clients["registration"].post("/v1/enrollments", json={"person_id": PLACEHOLDERS["person_id"],
                                       "plan_year": 2025}, headers=token("township_staff",
                                                                         region="370481001000"))
    log = await clients["registration"].get("/v1/audit", params={"action": "POST /v1/enrollments"},
                                            headers=admin)
    assert log.status_code == 200, log.text
    entry = log.json()["entries"][0]
    assert entry["actor"] == "test-township_staff" and entry["role"] == "township_staff"
    assert entry["outcome"] in ("failed", "ok")
    assert (await clients["registration"].get("/v1/audit", headers=token("supervisor"))).status_code == 403


async def test_township_staff_register_people_only_in_their_township(secured) -> None:  # noqa: ANN001
    _, clients, token = secured
    staff = token("township_staff", region="370481002000")
    r = await clients["registration"].post("/v1/persons", headers=staff, json={
        "id_number": "370481198001010011", "name": "张三", "township_code": "370481001000"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_region"
