"""The metrics and logs operators alert on (deploy/prometheus/alerts.yml), from a running
payments app on the real database and broker: accepted and refused channel notifications
counted, open suspense, the outbox's oldest unsent row, the database pool; one access log line
per request naming the service and the correlation id; /readyz without Alembic's context
lines."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import uuid

import pytest

from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from services.payments.app import create_app
from services.payments.channels.standard_webhooks import signed_headers
from services.payments.tests.integration.payments_support import (
    BANK,
    BANK_SECRET,
    payments_settings,
)
from shared.observability import JsonFormatter, quiet_migration_context


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("payments"))
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def _sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_payments_metrics_access_log_and_quiet_readiness(
        infra: TestInfra, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("shared.service.PROBE_SECONDS", 0.2)
    quiet_migration_context()
    app = create_app(infra.settings(), payments_settings())
    caplog.set_level(logging.INFO)
    lines = _Lines()
    logging.getLogger("canbao.access").addHandler(lines)
    async with running_app(app) as client:
        before = (await client.get("/metrics")).text
        body = json.dumps({"type": "payment.succeeded", "data": {
            "order_no": f"CBNOBODY{uuid.uuid4().hex[:10]}", "amount_fen": 38000,
            "channel_txn_id": f"T{uuid.uuid4().hex[:12]}",
            "paid_at": dt.datetime.now(dt.UTC).isoformat()}}).encode()
        now = int(dt.datetime.now().timestamp())
        good = signed_headers(BANK_SECRET, f"msg_{uuid.uuid4().hex}", now, body)
        bad = signed_headers("whsec_" + "QUFB" * 11, f"msg_{uuid.uuid4().hex}", now, body)
        cid = f"metrics-{uuid.uuid4().hex[:8]}"
        accepted = await client.post(f"/v1/webhooks/{BANK}", content=body,
                                     headers={**good, "content-type": "application/json",
                                              "x-correlation-id": cid})
        assert accepted.status_code in (200, 204), accepted.text
        refused = await client.post(f"/v1/webhooks/{BANK}", content=body,
                                    headers={**bad, "content-type": "application/json"})
        assert refused.status_code >= 400
        mark = len(caplog.records)
        assert (await client.get("/readyz")).status_code == 200
        after_readyz = caplog.records[mark:]

        async def suspense_seen() -> str:
            for _ in range(150):  # the notification is matched (to suspense) asynchronously
                text = (await client.get("/metrics")).text
                if _sample(text, "canbao_suspense_open") > _sample(before, "canbao_suspense_open"):
                    return text
                await asyncio.sleep(0.2)
            raise AssertionError("canbao_suspense_open did not rise")

        after = await suspense_seen()
    assert not [r for r in after_readyz if r.name == "alembic.runtime.migration"]
    assert _sample(after, "canbao_payments_total", channel=BANK) - \
        _sample(before, "canbao_payments_total", channel=BANK) == 1
    assert _sample(after, "canbao_webhook_rejected_total", channel=BANK) - \
        _sample(before, "canbao_webhook_rejected_total", channel=BANK) == 1
    assert "canbao_outbox_oldest_unsent_seconds{service=\"payments\"}" in after
    assert _sample(after, "canbao_db_pool_connections", service="payments", state="size") > 0
    access = [r for r in caplog.records if r.name == "canbao.access"]
    assert access, "no access log line"
    # health checks are not worth a line at INFO (compose probes every 10 s)
    assert not [r for r in access if getattr(r, "route", None) == "/readyz"
                and r.levelno >= logging.INFO]
    hooks = [r for r in access if getattr(r, "route", None) == "/v1/webhooks/{channel}"]
    assert hooks and hooks[0].service == "payments" and hooks[0].status in (200, 204)
    assert isinstance(hooks[0].duration_ms, float)
    logging.getLogger("canbao.access").removeHandler(lines)
    webhook = [line for line in lines.lines if line.get("correlation_id") == cid]
    assert webhook and webhook[0]["service"] == "payments"
    assert webhook[0]["route"] == "/v1/webhooks/{channel}" and webhook[0]["level"] == "INFO"
