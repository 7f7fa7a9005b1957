"""Benchmark: latency of POST /v1/determinations/preview at a fixed request rate.

    python bench/eligibility_preview.py [--rate 500] [--seconds 20]

Runs the eligibility service with uvicorn in a subprocess (its own database on
CANBAO_TEST_DATABASE_URL's or CANBAO_DATABASE_URL's server or an embedded PostgreSQL 18; no
broker needed for the preview),
then drives it with an open-loop async httpx load generator: requests are sent on a fixed
schedule whatever the server's speed, and latency is counted from when each request was due,
so a stalled server cannot hide its queueing (no coordinated omission). The same rate against
/healthz is the baseline: what the HTTP stack and the generator cost on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.infra import bench_database, free_port  # noqa: E402

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


async def drive(port: int, method: str, path: str, rate: float,
                seconds: float, connections: int = 50) -> tuple[np.ndarray, int]:
    """A fixed request rate over keep-alive connections with a minimal HTTP/1.1 client
    (httpx costs more CPU than the server at this rate). Latency is measured from the moment
    each request was due, so a stalled server cannot hide its queue (no coordinated omission)."""
    per_connection = rate / connections
    count = int(per_connection * seconds)
    latencies: list[float] = []
    errors = 0
    t0 = time.perf_counter() + 0.5

    def request(i: int) -> bytes:
        if method == "GET":
            return f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
        body = orjson.dumps(BODIES[i % len(BODIES)])
        return (f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    async def connection(k: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        first = t0 + k / rate
        for j in range(count):
            due = first + j / per_connection
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(request(k + j * connections))
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: *(\d+)", head)
            await reader.readexactly(int(length[1]) if length else 0)
            if head[9:12] != b"200":
                errors += 1
            latencies.append(time.perf_counter() - due)
        writer.close()

    await asyncio.gather(*(connection(k) for k in range(connections)))
    return np.array(latencies) * 1000, errors


def report(label: str, ms: np.ndarray, errors: int, rate: float) -> None:
    p50, p99, p999 = np.nanpercentile(ms, [50, 99, 99.9])
    print(f"{label:<34} {rate:>5.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
          f"p99.9 {p999:6.2f} ms  max {np.nanmax(ms):6.1f} ms  errors {errors}", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()
    proc = None
    async with bench_database("canbao_bench_preview", ["eligibility"],
                              ROOT / ".canbao" / "bench-eligibility-preview-pg") as url:
        try:
            port = free_port()
            env = {**os.environ, "CANBAO_DATABASE_URL": url, "CANBAO_CONSUMERS_ENABLED": "false",
                   "CANBAO_RELAY_ENABLED": "false", "CANBAO_LOG_LEVEL": "ERROR",
                   # the engine's latency; the cost of auth is measured by payments_webhooks.py
                   "CANBAO_AUTH_ENABLED": "false", "CANBAO_RATE_LIMIT_ENABLED": "false",
                   "CANBAO_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
            proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "services.eligibility.app:create_app", "--factory",
                 "--port", str(port), "--log-level", "error", "--no-access-log",
                 "--workers", str(args.workers)],
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
                await drive(port, "POST", "/v1/determinations/preview", args.rate, 2)  # warm-up
                ms, err = await drive(port, "GET", "/healthz", args.rate, args.seconds)
                report("GET /healthz (baseline)", ms, err, args.rate)
                ms, err = await drive(port, "POST", "/v1/determinations/preview", args.rate,
                                      args.seconds)
                report("POST /v1/determinations/preview", ms, err, args.rate)
            print(f"machine: {os.cpu_count()} cores; server and load generator share them")
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
