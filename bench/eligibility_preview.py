"""Benchmark: latency of POST /v1/determinations/preview at a fixed request rate.

    python bench/eligibility_preview.py [--rate 500] [--seconds 20]

Runs the eligibility service with uvicorn in a subprocess (its own database on
CANBAO_DATABASE_URL's server or an embedded PostgreSQL 18; no broker needed for the preview),
then drives it with an open-loop async httpx load generator: requests are sent on a fixed
schedule whatever the server's speed, and latency is counted from when each request was due,
so a stalled server cannot hide its queueing (no coordinated omission). The same rate against
/healthz is the baseline: what the HTTP stack and the generator cost on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.devinfra import EmbeddedPostgres, create_database, free_port  # noqa: E402
from shared.migrations import upgrade  # noqa: E402

BODIES = [
    {"region_code": "370481", "plan_year": 2025,
     "person": {"birth_date": "1961-06-01", "groups": [{"code": "family_planning_household"}]}},
    {"region_code": "140623", "plan_year": 2025,
     "person": {"id_number": "140623198506010017", "groups": [
         {"code": "minimum_living_allowance"}, {"code": "poverty_monitoring"}]}},
    {"region_code": "370124", "plan_year": 2025, "person": {"birth_date": "1980-06-01"},
     "paid_on": "2025-03-10"},
    {"region_code": "370827", "plan_year": 2024,
     "person": {"birth_date": "1974-06-01", "groups": [{"code": "low_income_margin"}]}},
]


async def drive(client: httpx.AsyncClient, method: str, path: str, rate: float,
                seconds: float) -> tuple[np.ndarray, int]:
    n = int(rate * seconds)
    latencies = np.full(n, np.nan)
    errors = 0
    start = time.perf_counter() + 0.2

    async def one(i: int) -> None:
        nonlocal errors
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            if method == "GET":
                r = await client.get(path)
            else:
                r = await client.post(path, json=BODIES[i % len(BODIES)])
            if r.status_code != 200:
                errors += 1
        except httpx.HTTPError:
            errors += 1
        latencies[i] = time.perf_counter() - due

    await asyncio.gather(*(one(i) for i in range(n)))
    return latencies * 1000, errors


def report(label: str, ms: np.ndarray, errors: int, rate: float) -> None:
    p50, p99, p999 = np.nanpercentile(ms, [50, 99, 99.9])
    print(f"{label:<34} {rate:>5.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
          f"p99.9 {p999:6.2f} ms  max {np.nanmax(ms):6.1f} ms  errors {errors}", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    pg = None
    server = os.environ.get("CANBAO_DATABASE_URL")
    if not server:
        pg = EmbeddedPostgres(ROOT / ".canbao" / "bench-eligibility-preview-pg")
        server = await asyncio.to_thread(pg.start)
    proc = None
    try:
        url = await create_database(server, "canbao_bench_preview", drop_first=True)
        await asyncio.to_thread(upgrade, "eligibility", url)
        port = free_port()
        env = {**os.environ, "CANBAO_DATABASE_URL": url, "CANBAO_CONSUMERS_ENABLED": "false",
               "CANBAO_RELAY_ENABLED": "false", "CANBAO_LOG_LEVEL": "ERROR",
               "CANBAO_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "services.eligibility.app:create_app", "--factory",
             "--port", str(port), "--log-level", "error", "--no-access-log"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
            for _ in range(200):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            r = await client.post("/v1/determinations/preview", json=BODIES[1])
            assert r.status_code == 200, r.text
            await drive(client, "POST", "/v1/determinations/preview", args.rate, 2)  # warm-up
            ms, err = await drive(client, "GET", "/healthz", args.rate, args.seconds)
            report("GET /healthz (baseline)", ms, err, args.rate)
            ms, err = await drive(client, "POST", "/v1/determinations/preview", args.rate,
                                  args.seconds)
            report("POST /v1/determinations/preview", ms, err, args.rate)
        print(f"machine: {os.cpu_count()} cores; server and load generator share them")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    asyncio.run(main())
