"""The 督办 dashboard rendered by headless Chromium against the app served by uvicorn."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.infra import free_port
from devtools.testing.infra import TestInfra
from kernels.regions import load_regions
from services.reporting.projections.handlers import router
from services.reporting.tests import factories as f
from shared.db import make_sessionmaker

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[3]
COUNTY = "370481"  # 滕州市: real township names from the division tree


async def seed(engine: AsyncEngine, plan_year: int) -> None:
    rng = random.Random(plan_year)
    towns = [r.code for r in load_regions().children(COUNTY)][:8]
    events = []
    start = dt.datetime(plan_year - 1, 10, 1, 10, tzinfo=dt.UTC)
    for i, town in enumerate(towns):
        events.append(f.target(town, plan_year, 40))
        for v in range(1, 3):
            village = f"{town[:9]}{v:03d}"
            for _ in range(15 + i):
                pid = f.new_id()
                birth = f"{plan_year - rng.choice((8, 30, 45, 66))}-03-01"
                events += [f.person(pid, village=village, birth_date=birth),
                           f.enrollment(pid, plan_year, village=village)]
                if rng.random() < 0.35 + i * 0.07:
                    day = start + dt.timedelta(days=rng.randint(0, 40))
                    events.append(f.payment(pid, plan_year, village=village,
                                            paid_at=day.isoformat()))
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        for ev in events:
            await router(session, ev)


async def chromium(*args: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        proc = await asyncio.create_subprocess_exec(
            str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", "--window-size=1280,900", *args,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        return out.decode()


@pytest.mark.skipif(not CHROMIUM.exists(),
                    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y "
                           "chromium fonts-wqy-microhei)")
async def test_dashboard_in_headless_chromium(infra: TestInfra,
                                              reporting_engine: AsyncEngine) -> None:
    # a past year with no plan loaded (figures for a future day are refused)
    plan_year = random.choice([y for y in range(2000, 2020)])
    await seed(reporting_engine, plan_year)
    port = free_port()
    env = {**os.environ, **infra.env(), "CANBAO_CONSUMERS_ENABLED": "false",
           "CANBAO_RELAY_ENABLED": "false"}
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any awaiting
        [sys.executable, "-m", "uvicorn", "--factory", "services.reporting.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                try:
                    if (await client.get(f"{base}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        url = (f"{base}/dashboard?county_code={COUNTY}&plan_year={plan_year}"
               f"&as_of={plan_year - 1}-11-10")
        dom = await chromium("--dump-dom", url)
        assert 'id="township-table"' in dom and "滕州市" in dom
        assert "荆河街道" in dom and 'id="daily-chart"' in dom and "<rect" in dom
        # every township of the county: the 8 with figures ranked, the other 13 listed apart
        assert dom.count("<tr data-code=") == 21
        assert dom.count("<td>—</td>\n<td class=\"l\">") >= 13 or dom.count(">—<") >= 13
        # #14: labelled axes, amounts in yuan, a legend, drill-down links that keep the date
        assert 'id="y-axis-title"' in dom and 'id="x-axis-title"' in dom
        assert 'id="total-person-yuan"' in dom and " 元</b>" in dom
        assert 'id="legend"' in dom and 'id="year-picker"' in dom
        assert f"&amp;as_of={plan_year - 1}-11-10" in dom
        shots = ROOT / ".artifacts" / "dashboard"
        shots.mkdir(parents=True, exist_ok=True)
        for name, size in (("desktop", "1280,900"), ("phone", "390,844")):
            shot = shots / f"{name}.png"
            shot.unlink(missing_ok=True)
            await chromium(f"--window-size={size}", f"--screenshot={shot}", url)
            assert shot.exists() and shot.stat().st_size > 10_000, name
        # a year nobody registered for: a Chinese message, never an empty page like data
        other = 2000 if plan_year != 2000 else 2001
        async with httpx.AsyncClient() as client:
            empty = await client.get(f"{base}/dashboard?county_code={COUNTY}&plan_year={other}",
                                     headers={"accept": "text/html"})
        assert empty.status_code == 404 and 'id="no-data"' in empty.text
        assert "没有参保缴费数据" in empty.text and "township-table" not in empty.text
        village_dom = await chromium("--dump-dom", url + f"&township_code={COUNTY}001000")
        assert 'id="village-table"' in village_dom and f"{COUNTY}001001" in village_dom
    finally:
        server.terminate()
        server.wait(10)
