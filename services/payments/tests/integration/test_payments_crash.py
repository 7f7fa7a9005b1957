"""A payments process killed (SIGKILL) right after it answered 2xx loses no notification:
after a restart every accepted notification is processed exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from devtools.infra import free_port
from devtools.testing.infra import TestInfra
from shared.db import make_engine

from .payments_support import BANK, bank_webhook, payments_env, scalar, wait_processed

ROOT = Path(__file__).resolve().parents[4]


def start_service(infra: TestInfra, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, **infra.env(), **payments_env()}
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "payments", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=open(ROOT / ".canbao" / "payments-crash-test.log", "ab"))  # noqa: SIM115


async def wait_up(client: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(150):
        assert proc.poll() is None, "payments service exited"
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("payments service did not start")


async def test_sigkill_after_2xx_loses_nothing(infra: TestInfra) -> None:
    port = free_port()
    tag = uuid.uuid4().hex[:10]
    webhooks = [bank_webhook(f"CB2025CRASH{tag}{n:03d}", f"crash-{tag}-{n}", 10000 + n)
                for n in range(60)]
    engine = make_engine(infra.settings())
    proc = start_service(infra, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await wait_up(client, proc)
            answers = await asyncio.gather(*(
                client.post(f"/v1/webhooks/{BANK}", content=b, headers=h) for h, b in webhooks))
            proc.send_signal(signal.SIGKILL)  # right after the last 2xx, mid-processing
            proc.wait(10)
            assert [a.status_code for a in answers] == [204] * len(webhooks)
            proc = start_service(infra, port)
            await wait_up(client, proc)
            # the channel retries some of them too: still nothing doubled
            for h, b in webhooks[:10]:
                assert (await client.post(f"/v1/webhooks/{BANK}", content=b,
                                          headers=h)).status_code == 204
            await wait_processed(engine, timeout=60)
        like = f"crash-{tag}-%"
        assert await scalar(engine, "SELECT count(*) FROM payments.notifications WHERE "
                                    "normalized->>'channel_txn_id' LIKE :l", l=like) == 60
        assert await scalar(engine, "SELECT count(*) FROM payments.ledger WHERE "
                                    "channel_txn_id LIKE :l", l=like) == 60
        assert await scalar(engine, "SELECT count(*) FROM payments.suspense WHERE "
                                    "channel_txn_id LIKE :l", l=like) == 60
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        await engine.dispose()
