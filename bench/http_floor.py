"""The floor of a Python web service on this machine, beside #18's webhook ceiling.

    .venv/bin/python bench/http_floor.py [--seconds 15] [--conns 64] [--workers 2]

Runs a FastAPI app that does nothing but read a webhook-sized POST body and answer 204 (no
signature, no database, no event) under uvicorn with the payments service's worker count, loads
it with wrk at the webhook benchmark's connection count, and then runs pgbench's single-row
INSERT with as many clients on the same PostgreSQL (bench/payments_webhooks.py's ceiling). What
no Python service on these cores can beat: if the empty app reaches only a fraction of
pgbench's rate, a webhook intake that also verifies, stores and matches reaches less.

Needs wrk (Debian's package). Uses CANBAO_TEST_DATABASE_URL / CANBAO_DATABASE_URL when set,
otherwise an embedded PostgreSQL under .canbao/bench-http-floor-pg.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import payments_webhooks  # noqa: E402
import wrk_load  # noqa: E402
from fastapi import FastAPI, Request, Response  # noqa: E402

from devtools.infra import bench_database, free_port  # noqa: E402

app = FastAPI()


@app.post("/hook", status_code=204)
async def hook(request: Request) -> Response:
    await request.body()
    return Response(status_code=204)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


BODY = orjson.dumps({
    "type": "payment.succeeded", "id": "evt_" + "0" * 24, "channel": "wechatpay",
    "data": {"order_no": "CB2027" + "0" * 20, "channel_txn_id": "4200" + "0" * 24,
             "amount_fen": 40000, "paid_at": "2026-12-05T10:00:00+08:00",
             "status": "SUCCESS", "payer": {"openid": "o" + "x" * 27}},
}).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--conns", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    args = parser.parse_args()
    if not wrk_load.available():
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "http_floor:app", "--app-dir", str(ROOT / "bench"),
         "--workers", str(args.workers), "--port", str(port), "--no-access-log",
         "--log-level", "warning"], cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        asyncio.run(payments_webhooks.wait_http(port))
        lines = [wrk_load.request_line("POST", "/hook", {"Content-Type": "application/json"},
                                       BODY)] * int(args.seconds * 40_000)
        r = wrk_load.run(f"http://127.0.0.1:{port}", lines, args.seconds, threads=2,
                         connections=args.conns)
        print(f"empty FastAPI app, uvicorn --workers {args.workers}, {args.conns} connections: "
              f"{r.rate:,.0f}/s, p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, "
              f"{r.non_2xx} not 2xx", flush=True)
    finally:
        proc.terminate()
        proc.wait(30)

    async def ceiling() -> str:
        async with bench_database("canbao_bench_http_floor", [],
                                  ROOT / ".canbao" / "bench-http-floor-pg") as url:
            return await asyncio.to_thread(payments_webhooks.pgbench_ceiling, url,
                                           args.pgbench_seconds, args.conns)

    line = asyncio.run(ceiling())
    print(line, "(same machine, right after)")
    try:
        pgbench = float(line.rsplit(": ", 1)[1].rstrip("/s"))
        print(f"floor / pgbench: {r.rate / pgbench:.2f}x (#18's webhook step: 0.5x)")
    except (IndexError, ValueError):
        pass
    print(f"machine: {os.cpu_count()} cores; {dt.date.today().isoformat()}")


if __name__ == "__main__":
    main()
