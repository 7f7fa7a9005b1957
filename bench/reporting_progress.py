"""Benchmark: reporting at Tengzhou scale (1.5 million enrollments in one county).

Creates its own database and broker (devtools/testing/infra.py), loads the projections with COPY
(persons, enrollments and person-years; counters aggregated from them once), then measures:
  1. baselines in the same run: a `SELECT 1` round trip and a raw count(*) of the county's
     person-years (what a query without pre-aggregated counters would at least cost);
  2. GET /v1/progress for the county (township level) and for one township's villages;
  3. GET /v1/publicity-lists for one village (JSON);
  4. payment-to-progress latency: produce a payments.payment.v1 event onto the broker and time
     until the progress counters reflect it (the reporting part of webhook -> progress).

    python bench/reporting_progress.py [--persons 1500000] [--samples 100]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
import numpy as np  # noqa: E402
import province  # noqa: E402

# Measures the queries themselves; the cost of auth is measured by bench/payments_webhooks.py.
os.environ.setdefault("CANBAO_AUTH_ENABLED", "false")

from contracts.payments import PaymentReceived  # noqa: E402
from devtools.infra import _asyncpg_dsn  # noqa: E402
from devtools.testing.apps import running_app  # noqa: E402
from devtools.testing.events import cloud_event  # noqa: E402
from devtools.testing.infra import start_test_infra  # noqa: E402
from services.reporting.app import create_app  # noqa: E402
from services.reporting.projections.state import CHINA  # noqa: E402
from shared.kafka import ensure_topics, make_producer  # noqa: E402

COUNTY = "370481"
YEAR = 2025
PAID_SHARE = 0.7


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def fmt(name: str, ms: list[float]) -> str:
    return (f"{name:<48} n={len(ms):<4} p50={pct(ms, 50):8.2f} ms  p99={pct(ms, 99):8.2f} ms"
            f"  max={max(ms):8.2f} ms")


Y_COLUMNS = ["person_id", "plan_year", "county_code", "township_code", "village_code", "band",
             "enrollment_status", "registered", "enrolled", "subsidized", "paid_by", "paid_fen",
             "paid_on", "subsidies", "settled", "settled_on", "paid_person_fen", "paid_person_on",
             "owed_person_fen"]


async def load(conn: asyncpg.Connection, counties: list[province.County],
               seed: int = 2025) -> list[tuple]:
    """COPY the people of `counties` (bench/province.py) into the projections (PAID_SHARE of
    them paid, on a day of the campaign), then aggregate the counters from them once; returns
    up to 5000 unpaid people (person_id, township, village, band)."""
    unpaid: list[tuple] = []
    for c in province.population(counties):
        rng = np.random.default_rng([seed, int(c.start)])
        ids = c.person_uuid_text()
        age = c.age(YEAR)
        category = np.where(age < 18, "minor", "adult")
        band = np.where(age <= 1, "newborn", np.where(
            age < 18, "minor", np.where(age >= 60, "age60plus", "adult")))
        paid = rng.random(c.n) < PAID_SHARE
        paid_on = np.where(paid, province.date_text(
            np.datetime64("2024-10-01") + rng.integers(0, 91, c.n)), "\\N")
        county = c.county.code
        masked = np.char.add(f"{county}********", np.char.zfill(
            (c.person_index % 10000).astype(str), 4))
        await province.copy_rows(
            conn, "reporting.persons", ["person_id", "revision", "birth_date", "name_masked",
                                        "id_number_masked", "county_code", "township_code",
                                        "village_code"],
            province.copy_text(ids, "1", province.date_text(c.birth), "张*三", masked, county,
                               c.township, c.village))
        await province.copy_rows(
            conn, "reporting.enrollments", ["person_id", "plan_year", "revision", "status",
                                            "reason", "insured_category", "county_code",
                                            "township_code", "village_code", "registered_on"],
            province.copy_text(ids, str(YEAR), "1", "registered", "\\N", category, county,
                               c.township, c.village, "2024-10-08"))
        fen = np.where(paid, "40000", "0")
        await province.copy_rows(
            conn, "reporting.person_years", Y_COLUMNS,
            province.copy_text(ids, str(YEAR), county, c.township, c.village, band, "registered",
                               "t", "t", "f", np.where(paid, "person", "\\N"), fen, paid_on,
                               "[]", np.where(paid, "t", "f"), paid_on, fen, paid_on,
                               np.where(paid, "0", "40000")))
        for i in np.flatnonzero(~paid)[: 5000 - len(unpaid)].tolist():
            unpaid.append((uuid.UUID(str(ids[i])), str(c.township[i]), str(c.village[i]),
                           str(band[i])))
    await conn.execute("""
        INSERT INTO reporting.progress (plan_year, county_code, township_code, village_code, band,
            registered, settled, paid_person, paid_government, paid_person_fen,
            paid_government_fen)
        SELECT plan_year, county_code, township_code, village_code, band,
               count(*) FILTER (WHERE registered), count(*) FILTER (WHERE settled),
               count(*) FILTER (WHERE paid_by = 'person'),
               count(*) FILTER (WHERE paid_by = 'government'),
               coalesce(sum(paid_fen) FILTER (WHERE paid_by = 'person'), 0),
               coalesce(sum(paid_fen) FILTER (WHERE paid_by = 'government'), 0)
        FROM reporting.person_years GROUP BY 1, 2, 3, 4, 5""")
    await conn.execute("""
        INSERT INTO reporting.progress_townships (plan_year, county_code, township_code, band,
            registered, settled, paid_person, paid_government, paid_person_fen,
            paid_government_fen)
        SELECT plan_year, county_code, township_code, band, sum(registered), sum(settled),
               sum(paid_person), sum(paid_government), sum(paid_person_fen),
               sum(paid_government_fen)
        FROM reporting.progress GROUP BY 1, 2, 3, 4""")
    await conn.execute("""
        INSERT INTO reporting.progress_daily (plan_year, county_code, township_code, day, paid)
        SELECT plan_year, county_code, township_code, settled_on, count(*)
        FROM reporting.person_years WHERE settled GROUP BY 1, 2, 3, 4""")
    await conn.execute("""
        INSERT INTO reporting.targets (plan_year, township_code, county_code, target, set_at)
        SELECT plan_year, township_code, county_code, (sum(registered) * 1.02)::int, now()
        FROM reporting.progress GROUP BY 1, 2, 3""")
    await conn.execute("ANALYZE")
    return unpaid


@asynccontextmanager
async def running_timed(app):  # type: ignore[no-untyped-def]
    """`app` running in-process: (a client, the list each answered request's service time is
    appended to, in ms: from the call into the app to its last answer byte, so what the
    httpx test client adds is left out)."""
    server_ms: list[float] = []

    async def timed_app(scope, receive, send):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        await app(scope, receive, send)
        if scope["type"] == "http":
            server_ms.append((time.perf_counter() - t0) * 1000)

    async with running_app(app, asgi=timed_app) as client:
        yield client, server_ms


async def timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_500_000)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="canbao-bench-") as tmp:
        infra = await start_test_infra(Path(tmp))
        try:
            settings = infra.settings()
            conn = await asyncpg.connect(_asyncpg_dsn(infra.database_url))
            t0 = time.perf_counter()
            unpaid = await load(conn, province.one_county(COUNTY, args.persons))
            print(f"loaded {args.persons:,} persons/enrollments/person-years with COPY "
                  f"in {time.perf_counter() - t0:.1f}s "
                  f"(broker: {infra.broker_kind}, postgres: {infra.database_url.split('@')[-1]})")
            counters = await conn.fetchval("SELECT count(*) FROM reporting.progress")
            print(f"progress counter rows for the county: {counters:,}")

            print("\n-- baselines (same database, same run)")
            print(fmt("SELECT 1 round trip", await timed(lambda: conn.fetchval("SELECT 1"), 200)))
            print(fmt("raw count(*) of the county's person-years", await timed(
                lambda: conn.fetchval("SELECT count(*) FROM reporting.person_years WHERE "
                                      "county_code = $1 AND plan_year = $2", COUNTY, YEAR), 5)))

            async with running_timed(create_app(settings)) as (client, server_ms):
                town = unpaid[0][1]
                village = unpaid[0][2]

                async def get(url: str) -> None:
                    r = await client.get(url)
                    assert r.status_code == 200, r.text

                print("\n-- API (in-process ASGI, includes JSON encoding; 'client': what the "
                      "httpx test client sees, 'service': time inside the app)")
                url = f"/v1/progress?county_code={COUNTY}&plan_year={YEAR}"
                for _ in range(20):  # warm-up
                    await get(url)
                for name, view in (("county, 21 townships", url),
                                   ("one township's villages",
                                    url + f"&level=village&township_code={town}")):
                    server_ms.clear()
                    client_ms = await timed(lambda v=view: get(v), 1000)  # type: ignore[misc]
                    print(fmt(f"GET /v1/progress ({name}) client", client_ms))
                    print(fmt(f"GET /v1/progress ({name}) service", server_ms))
                purl = f"/v1/publicity-lists?village_code={village}&plan_year={YEAR}"
                size = len((await client.get(purl)).json()["rows"])
                print(fmt(f"GET /v1/publicity-lists (village, {size} paid)", await timed(
                    lambda: get(purl), 50)))

                print("\n-- payment event -> progress counters (real broker, reporting consumer)")
                await ensure_topics(settings, ["payments.payment.v1"])
                producer = make_producer(settings)
                await producer.start()
                try:
                    latencies = await payment_latency(conn, producer, unpaid, args.samples)
                finally:
                    await producer.stop()
                print(fmt("produce -> counters reflect it", latencies[1:]))
                print(f"(first event, incl. consumer group join: {latencies[0]:.0f} ms)")
            await conn.close()
        finally:
            infra.stop()


async def payment_latency(conn: asyncpg.Connection, producer, unpaid: list[tuple],  # type: ignore[no-untyped-def]
                          samples: int) -> list[float]:
    out = []
    query = ("SELECT paid_person FROM reporting.progress WHERE plan_year = $1 AND county_code = $2"
             " AND township_code = $3 AND village_code = $4 AND band = $5")
    for pid, town, village, band in unpaid[: samples + 1]:
        before = await conn.fetchval(query, YEAR, COUNTY, town, village, band)
        ev = cloud_event(PaymentReceived.model_validate({
            "person_id": str(pid), "plan_year": YEAR, "order_no": f"CB{uuid.uuid4().hex}",
            "channel": "wechatpay", "channel_txn_id": uuid.uuid4().hex, "kind": "paid",
            "payer": "person", "amount_fen": 40000,
            "paid_at": dt.datetime.now(CHINA).isoformat(), "coverage_start": "2025-01-01",
            "county_code": COUNTY, "township_code": town, "village_code": village,
            "revision": 1}))
        key, value, headers = ev.to_kafka()
        t0 = time.perf_counter()
        await producer.send_and_wait(PaymentReceived.TOPIC, value=value, key=key,
                                     headers=headers)
        while await conn.fetchval(query, YEAR, COUNTY, town, village, band) == before:
            if time.perf_counter() - t0 > 60:
                raise RuntimeError("payment never reached the counters")
            await asyncio.sleep(0.002)
        out.append((time.perf_counter() - t0) * 1000)
    return out


if __name__ == "__main__":
    asyncio.run(main())
