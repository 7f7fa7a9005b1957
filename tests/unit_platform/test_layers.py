"""Every service keeps the edge's layers (payments' rules, services/payments/tests/unit/
test_layers.py, walked over all four services): SQL runs only in repository modules, routers
open no transactions, read no `request.app.state` and import no routers. What a service does
not hold yet is listed below, each with its reason; the checks fail on a new offender and on
an entry that no longer offends (so the lists only shrink)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from devtools.testing.layers import imports_a_router, opens_transaction, reads_app_state, runs_sql

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("eligibility", "payments", "registration", "reporting")

# the modules that may hold SQL, beyond repository.py in every service
SQL_HOMES: dict[str, set[str]] = {
    # the webhook intake (one statement for a batch of notifications), the hot-path pool's
    # codec setup
    "payments": {"webhooks/ingest.py", "hotpath.py"},
}

# (service, rule) -> {module: why it still offends}
PENDING: dict[tuple[str, str], dict[str, str]] = {
}


def _modules(service: str) -> list[Path]:
    root = ROOT / "services" / service
    return sorted(p for p in root.rglob("*.py")
                  if "tests" not in p.relative_to(root).parts
                  and "migrations" not in p.relative_to(root).parts)


def _routers(service: str) -> list[Path]:
    return sorted((ROOT / "services" / service).glob("*/router.py"))


def _rel(service: str, path: Path) -> str:
    return path.relative_to(ROOT / "services" / service).as_posix()


def _sql_offenders(service: str) -> set[str]:
    homes = SQL_HOMES.get(service, set())
    return {_rel(service, p) for p in _modules(service)
            if p.name != "repository.py" and _rel(service, p) not in homes and runs_sql(p)}


def _router_offenders(service: str, check: Callable[[Path], bool]) -> set[str]:
    return {_rel(service, r) for r in _routers(service) if check(r)}


RULES: dict[str, Callable[[str], set[str]]] = {
    "sql": _sql_offenders,
    "transaction": lambda service: _router_offenders(service, opens_transaction),
    "app_state": lambda service: _router_offenders(service, reads_app_state),
    "router_import": lambda service: _router_offenders(service, imports_a_router),
}


def test_every_service_has_routers() -> None:
    for service in SERVICES:
        assert _routers(service), service


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("service", SERVICES)
def test_the_service_keeps_its_layers(service: str, rule: str) -> None:
    pending = PENDING.get((service, rule), {})
    offenders = RULES[rule](service)
    assert sorted(offenders - pending.keys()) == [], "new offenders"
    assert sorted(pending.keys() - offenders) == [], "no longer offend: strike them from PENDING"


def test_the_checks_can_fail(tmp_path: Path) -> None:
    router = tmp_path / "router.py"
    router.write_text(
        "from sqlalchemy import text\n"
        "from services.x.other.router import helper\n"
        "async def route(request, session):\n"
        "    async with session.begin():\n"
        "        await session.execute(text('SELECT 1'))\n"
        "    return request.app.state.plans\n", encoding="utf-8")
    assert runs_sql(router) and opens_transaction(router)
    assert reads_app_state(router) and imports_a_router(router)
    clean = tmp_path / "clean.py"
    clean.write_text("async def route(service):\n    return await service.list()\n",
                     encoding="utf-8")
    assert not (runs_sql(clean) or opens_transaction(clean) or reads_app_state(clean)
                or imports_a_router(clean))
