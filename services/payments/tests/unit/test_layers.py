"""Payments keeps its layers: SQL only in repositories, routers without transactions or
`request.app.state`, the posting core instead of a matcher hub, no channel named in matching
or posting, and a documented answer on every route. These read the source and the app's
OpenAPI document; they fail when a change breaks one of the rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.testing.layers import names as _names
from devtools.testing.layers import runs_sql as _runs_sql
from devtools.testing.layers import source as _source
from services.payments.app import create_app

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(p for p in ROOT.rglob("*.py")
                 if "tests" not in p.parts and "migrations" not in p.parts)
# the modules that hold SQL: repositories, the webhook intake (one statement for a batch of
# notifications), the hot-path pool's codec setup
SQL_HOMES = {"repository.py", "ingest.py", "hotpath.py"}


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_sql_runs_only_in_repositories() -> None:
    offenders = [_rel(p) for p in MODULES if p.name not in SQL_HOMES and _runs_sql(p)]
    assert offenders == []


@pytest.mark.parametrize("router", sorted(ROOT.glob("*/router.py")), ids=lambda p: p.parent.name)
def test_routers_open_no_transaction_and_read_no_app_state(router: Path) -> None:
    assert not _names(router) & {"begin", "commit", "rollback", "SessionDep", "AsyncSession"}
    assert "app.state" not in _source(router) and "state" not in _names(router), _rel(router)


def test_the_posting_core_replaces_the_matcher_hub() -> None:
    users = [_rel(p) for p in MODULES if "Matcher" in _names(p)]
    assert sorted(users) == ["matching/batch.py", "matching/service.py"]
    for noun in ("refunds", "suspense", "proxy", "matching"):
        assert "Posting" in _names(ROOT / noun / "service.py"), noun


def test_matching_and_posting_name_no_channel() -> None:
    for path in (ROOT / "matching" / "service.py", ROOT / "matching" / "batch.py",
                 ROOT / "ledger" / "posting.py"):
        names = {n.lower() for n in _names(path)}
        assert not any(channel in name for name in names
                       for channel in ("alipay", "wechat", "refund_fee")), _rel(path)


def test_every_route_documents_its_answer() -> None:
    document = create_app().openapi()
    missing = []
    # the platform's own operational routes (shared/service.py) are not payments' to document
    platform = {"/healthz", "/readyz"}
    for path, item in document["paths"].items():
        if path in platform:
            continue
        for method, operation in item.items():
            ok = [s for s, r in operation["responses"].items()
                  if s.startswith("2") and (r.get("content") or s == "204")]
            schemas = [r["content"][m].get("schema") for s, r in operation["responses"].items()
                       if s.startswith("2") for m in r.get("content", {})]
            if not ok or any(schema in ({}, None) for schema in schemas):
                missing.append(f"{method.upper()} {path}")
    assert missing == []
