"""The fault suite (issue #7): the four services run as real processes against their own
PostgreSQL server and broker, a campaign flows through them (registration -> eligibility ->
payments -> reporting), and one fault is injected per test:

a. the broker goes away mid-flow and comes back;
b. PostgreSQL is restarted mid-flow;
c. consumers are killed between their database commit and their offset commit;
d. events are delivered twice and older revisions after newer ones;
e. a relay is killed in the middle of a large batch;
f. services are stopped with SIGTERM while requests and events are in flight;
g. two replicas of every service, one of each killed with SIGKILL mid-flow.

After each: nothing lost (every event in every outbox was published and sits in the inbox of
every consumer of its topic, nothing dead-lettered), nothing applied twice (one determination,
one ledger entry, one payment event per person), and reporting's progress counts equal to
what the test itself did. Every test uses its own township, so the counts are its own.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import datetime as dt
import io
import itertools
import json
import os
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.infra import EmbeddedPostgres, create_database, free_port
from devtools.testing.faults import ProxiedTansu, restart_postgres
from devtools.testing.system import RunningSystem, ServiceProcess, start_system
from services.eligibility.facts.handlers import TOPICS as ELIGIBILITY_TOPICS
from services.payments.channels.standard_webhooks import signed_headers
from services.reporting.projections.handlers import TOPICS as REPORTING_TOPICS
from shared import topics
from shared.db import make_engine
from shared.idnumber import check_character
from shared.migrations import upgrade_all
from shared.settings import SERVICES, Settings

ROOT = Path(__file__).resolve().parent.parent
COUNTY = "370481"  # Tengzhou
YEAR = 2025
FEE = 40_000  # Tengzhou 2025: 400 yuan for every adult under 60 and every student
BANK = "bank_ccb"
SECRET = "whsec_" + base64.b64encode(b"fault-suite-bank-secret-0123456").decode()

# consumer name -> (schema of its inbox, topics it reads)
CONSUMERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "eligibility": ("eligibility", ELIGIBILITY_TOPICS),
    "payments": ("payments", (topics.REGISTRATION_PERSON, topics.ELIGIBILITY_DETERMINATION)),
    "payments-processor": ("payments", (topics.PAYMENTS_NOTIFICATION,)),
    "reporting": ("reporting", REPORTING_TOPICS),
}


# -- the system under test -----------------------------------------------------------------

@dataclass
class Stack:
    pg: EmbeddedPostgres
    broker: ProxiedTansu
    system: RunningSystem
    env: dict[str, str]
    engine: AsyncEngine
    http: httpx.AsyncClient
    state: Path

    def url(self, service: str) -> str:
        return self.system.url(service)

    def process(self, service: str) -> Any:
        return self.system.services[service].process

    async def start(self, service: str, *, failpoints: dict[str, Any] | None = None,
                    env: dict[str, str] | None = None) -> None:
        svc = self.system.services[service]
        assert svc.process is None or svc.process.poll() is not None, f"{service} is running"
        svc.process = None
        if failpoints:
            svc.start(self.env | (env or {}) | {"CANBAO_FAILPOINTS": json.dumps(failpoints)},
                      launcher="devtools.testing.failpoints")
        else:
            svc.start(self.env | (env or {}))
        await wait_ready(self, service)

    async def restart(self, service: str, *, failpoints: dict[str, Any] | None = None,
                      env: dict[str, str] | None = None) -> None:
        await asyncio.to_thread(self.system.services[service].stop)
        await self.start(service, failpoints=failpoints, env=env)

    def log_size(self, service: str) -> int:
        path = self.system.services[service].log_path
        return path.stat().st_size if path.exists() else 0

    async def stop_gracefully(self, service: str, log_from: int, within: float = 40) -> None:
        """Wait for a SIGTERMed service to end, and check that it shut down in order: uvicorn
        answered the requests in flight and ran the application's shutdown (it then re-raises
        the signal, so the exit status is -SIGTERM)."""
        code = await self.wait_exit(service, within)
        log = self.system.services[service].log_path.read_bytes()[log_from:].decode(
            errors="replace")
        assert code in (0, -signal.SIGTERM), f"{service} exited with {code}"
        assert "Application shutdown complete." in log, f"{service}:\n{log[-3000:]}"
        assert "did not finish in time" not in log, f"{service}:\n{log[-3000:]}"

    async def wait_exit(self, service: str, within: float = 60) -> int:
        proc = self.process(service)
        assert proc is not None
        deadline = time.monotonic() + within
        while proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{service} did not exit in {within}s")
            await asyncio.sleep(0.05)
        return int(proc.returncode)

    async def metric(self, service: str, name: str, consumer: str) -> float:
        body = (await self.http.get(f"{self.url(service)}/metrics")).text
        pattern = rf'^{name}{{[^}}]*consumer="{re.escape(consumer)}"[^}}]*}} (\S+)$'
        found = re.search(pattern, body, re.MULTILINE)
        return float(found.group(1)) if found else 0.0


async def wait_ready(stack: Stack, service: str, within: float = 60) -> None:
    svc = stack.system.services[service]
    deadline = time.monotonic() + within
    while True:
        try:
            r = await stack.http.get(f"{svc.url}/readyz", timeout=3)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if svc.process is not None and svc.process.poll() is not None:
            raise AssertionError(f"{service} exited:\n{svc.log_tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{service} not ready:\n{svc.log_tail()}")
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    state = ROOT / ".canbao" / f"faults-{os.getpid()}"
    state.mkdir(parents=True, exist_ok=True)
    # Its own PostgreSQL server (test b restarts it) and its own broker (test a takes it away).
    pg = EmbeddedPostgres(state / "pg", remove_on_stop=True)
    broker = ProxiedTansu(log_path=state / "tansu.log")
    system = RunningSystem()
    engine: AsyncEngine | None = None
    try:
        server = await asyncio.to_thread(pg.start)
        database_url = await create_database(server, "canbao_faults", drop_first=True)
        await asyncio.to_thread(upgrade_all, database_url)
        bootstrap = await asyncio.to_thread(broker.start)
        env = {
            "CANBAO_ENVIRONMENT": "test",
            "CANBAO_AUTH_ENABLED": "false",
            "CANBAO_DATABASE_URL": database_url,
            "CANBAO_DATABASE_POOL_SIZE": "4",
            "CANBAO_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "CANBAO_KAFKA_IDEMPOTENT_PRODUCER": "false",
            "CANBAO_TOPIC_PARTITIONS": "3",
            "CANBAO_RELAY_POLL_INTERVAL_MS": "20",
            "CANBAO_RELAY_LEASE_SECONDS": "3",
            "CANBAO_RELAY_MAX_BACKOFF_SECONDS": "1",
            "CANBAO_CONSUMER_SESSION_TIMEOUT_MS": "3000",
            "CANBAO_CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
            "CANBAO_PAYMENTS_WEBHOOK_SECRETS": json.dumps({BANK: [SECRET]}),
            "CANBAO_PAYMENTS_POOL_SIZE": "4",
        }
        system = start_system(env, state / "logs")
        engine = make_engine(Settings(database_url=database_url, database_pool_size=2))
        async with httpx.AsyncClient(timeout=30) as http:
            stack = Stack(pg, broker, system, env, engine, http, state)
            await system.wait_ready(timeout=120)
            yield stack
    finally:
        await asyncio.to_thread(system.stop)
        if engine is not None:
            await engine.dispose()
        await asyncio.to_thread(broker.stop)
        await asyncio.to_thread(pg.stop)


# -- waiting -------------------------------------------------------------------------------

async def eventually(probe: Callable[[], Awaitable[Any]], within: float = 60,
                     what: str = "condition", every: float = 0.2) -> Any:
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await probe()
        except Exception as exc:  # the database may be restarting
            last = exc
        else:
            if last:
                return last
        await asyncio.sleep(every)
    raise AssertionError(f"{what} not reached in {within}s; last: {last!r}")


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(text(sql), params))


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


# -- the campaign --------------------------------------------------------------------------

_serial = itertools.count()


def new_id_number(birth_year: int) -> str:
    """Unique in the module (its database is its own): a running number spread over days."""
    n = next(_serial)
    born = dt.date(birth_year, 1, 1) + dt.timedelta(days=n // 900)
    first17 = f"{COUNTY}{born:%Y%m%d}{n % 900 + 100:03d}"
    return first17 + check_character(first17)


def students_csv(id_numbers: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["学校", "姓名", "身份证号", "学籍号"])
    for i, number in enumerate(id_numbers):
        writer.writerow(["滕州一中", f"学生{i}", number, f"G{number[-8:]}"])
    return buffer.getvalue().encode()


async def upload_students(stack: Stack, township: str, n: int) -> list[str]:
    """A school's list: n students registered and enrolled in one transaction (2n events)."""
    numbers = [new_id_number(2007) for _ in range(n)]
    r = await stack.http.post(
        f"{stack.url('registration')}/v1/students/upload",
        files={"file": ("students.csv", students_csv(numbers))},
        data={"plan_year": str(YEAR), "township_code": township})
    assert r.status_code == 200, r.text
    assert r.json()["registered"] == n and r.json()["enrolled"] == n, r.json()
    return await person_ids(stack, township)


async def person_ids(stack: Stack, township: str) -> list[str]:
    found = await rows(stack.engine, "SELECT id::text FROM registration.persons "
                                     "WHERE township_code = :t ORDER BY id", t=township)
    return [r[0] for r in found]


async def register_adult(stack: Stack, township: str, number: str | None = None) -> str:
    """One person over HTTP, then their enrollment: two requests, two events."""
    number = number or new_id_number(1980)
    r = await stack.http.post(f"{stack.url('registration')}/v1/persons", json={
        "id_number": number, "name": "王小明", "township_code": township})
    assert r.status_code == 201, r.text
    person_id = r.json()["person_id"]
    r = await stack.http.post(f"{stack.url('registration')}/v1/enrollments",
                              json={"person_id": person_id, "plan_year": YEAR})
    assert r.status_code == 201, r.text
    return str(person_id)


async def open_orders(stack: Stack, ids: Sequence[str]) -> dict[str, tuple[str, int]]:
    found = await rows(stack.engine, """
        SELECT person_id::text, order_no, amount_fen FROM payments.orders
        WHERE person_id = ANY(CAST(:ids AS uuid[])) AND plan_year = :y AND status = 'open'""",
        ids=list(ids), y=YEAR)
    return {r[0]: (r[1], int(r[2])) for r in found}


async def wait_orders(stack: Stack, ids: Sequence[str], within: float = 60
                      ) -> dict[str, tuple[str, int]]:
    """Until payments has an open order for every one of them (eligibility determined them)."""
    async def probe() -> dict[str, tuple[str, int]] | None:
        orders = await open_orders(stack, ids)
        return orders if len(orders) == len(ids) else None

    return await eventually(probe, within, f"open orders for {len(ids)} persons")


@dataclass
class Webhook:
    order_no: str
    amount_fen: int
    msg_id: str = field(default_factory=lambda: f"msg_{uuid.uuid4().hex}")
    txn: str = field(default_factory=lambda: f"CCB{uuid.uuid4().hex[:16]}")

    def request(self) -> tuple[dict[str, str], bytes]:
        body = json.dumps({"type": "payment.succeeded", "data": {
            "order_no": self.order_no, "channel_txn_id": self.txn,
            "amount_fen": self.amount_fen,
            # a day of the plan year's collection period: paid on time, covered from 1 January
            "paid_at": f"{YEAR - 1}-12-01T02:00:00+00:00"}}).encode()
        headers = signed_headers(SECRET, self.msg_id, int(time.time()), body)
        return {**headers, "content-type": "application/json"}, body


async def pay(stack: Stack, orders: dict[str, tuple[str, int]], *, until: float = 90,
              concurrency: int = 8) -> None:
    """Each order paid through the bank's signed webhook. Like a channel, retry (same message
    id) until the notification is acknowledged: the intake is idempotent on it."""
    hooks = [Webhook(order_no, amount) for order_no, amount in orders.values()]
    gate = asyncio.Semaphore(concurrency)
    deadline = time.monotonic() + until

    async def send(hook: Webhook) -> None:
        async with gate:
            while True:
                headers, body = hook.request()
                try:
                    r = await stack.http.post(f"{stack.url('payments')}/v1/webhooks/{BANK}",
                                              content=body, headers=headers, timeout=10)
                    if r.status_code in (200, 204):
                        return
                    last: Any = r.status_code
                except httpx.TransportError as exc:
                    last = exc
                if time.monotonic() > deadline:
                    raise AssertionError(f"webhook for {hook.order_no} never accepted: {last!r}")
                await asyncio.sleep(0.2)

    await asyncio.gather(*(send(h) for h in hooks))


# -- the truth -----------------------------------------------------------------------------

async def lost_events(engine: AsyncEngine) -> dict[str, int]:
    """Per consumer, the events some outbox holds on its topics that its inbox lacks (not
    yet consumed, lost, or dead-lettered); and per service, outbox rows not yet published."""
    outboxes = " UNION ALL ".join(
        f"SELECT event_id::text AS id, topic, sent_at FROM {s}.outbox" for s in SERVICES)
    missing: dict[str, int] = {}
    async with engine.connect() as conn:
        unsent = (await conn.execute(text(
            f"SELECT count(*) FROM ({outboxes}) o WHERE sent_at IS NULL"))).scalar_one()
        if unsent:
            missing["unpublished"] = int(unsent)
        for consumer, (schema, wanted) in CONSUMERS.items():
            n = (await conn.execute(text(f"""
                SELECT count(*) FROM ({outboxes}) o WHERE o.topic = ANY(:topics)
                AND NOT EXISTS (SELECT 1 FROM {schema}.inbox i
                                WHERE i.consumer = :c AND i.event_id = o.id)"""),
                {"topics": list(wanted), "c": consumer})).scalar_one()
            if n:
                missing[consumer] = int(n)
        waiting = (await conn.execute(text(
            "SELECT count(*) FROM payments.notifications WHERE status = 'received'"))).scalar_one()
        if waiting:
            missing["notifications unprocessed"] = int(waiting)
    return missing


async def wait_all_delivered(stack: Stack, within: float = 90) -> None:
    async def probe() -> bool:
        lost = await lost_events(stack.engine)
        probe.last = lost  # type: ignore[attr-defined]
        return not lost

    try:
        await eventually(probe, within, "every event published and consumed")
    except AssertionError:
        raise AssertionError(f"events not delivered after {within}s: "
                             f"{getattr(probe, 'last', None)}") from None


async def progress_row(stack: Stack, township: str) -> dict[str, Any]:
    r = await stack.http.get(f"{stack.url('reporting')}/v1/progress",
                             params={"county_code": COUNTY, "plan_year": YEAR})
    assert r.status_code == 200, r.text
    found = [row for row in r.json()["rows"] if row["code"] == township]
    return found[0] if found else {"registered": 0, "paid": 0, "paid_person": 0,
                                   "paid_person_fen": 0}


async def assert_truth(stack: Stack, township: str, *, registered: Sequence[str],
                       paid: Sequence[str], stopped: Sequence[str] = (),
                       determinations: int = 1, within: float = 90) -> None:
    """`registered`: person ids enrolled for YEAR in `township`; `paid`: those of them who
    paid (FEE each); `stopped`: enrolled, then stopped. All from the test's own bookkeeping."""
    await wait_all_delivered(stack, within)
    everyone = [*registered, *stopped]
    # registration
    assert sorted(await person_ids(stack, township)) == sorted(everyone)
    # eligibility: one current determination each, made once (no replay re-determined them)
    made = dict(await rows(stack.engine, """
        SELECT person_id::text, count(*) FROM eligibility.determinations
        WHERE person_id = ANY(CAST(:ids AS uuid[])) AND plan_year = :y GROUP BY person_id""",
        ids=everyone, y=YEAR))
    expected = {p: determinations for p in registered} | {p: determinations + 1 for p in stopped}
    assert made == expected, "determinations per person differ from one each"
    enrolled = dict(await rows(stack.engine, """
        SELECT person_id::text, enrolled FROM eligibility.current_determinations
        WHERE person_id = ANY(CAST(:ids AS uuid[])) AND plan_year = :y""", ids=everyone, y=YEAR))
    assert enrolled == {p: True for p in registered} | {p: False for p in stopped}
    # payments: one ledger entry, one paid order and one payment event per payer
    ledger = dict(await rows(stack.engine, """
        SELECT person_id::text, count(*) FROM payments.ledger
        WHERE person_id = ANY(CAST(:ids AS uuid[])) GROUP BY person_id""", ids=everyone))
    assert ledger == {p: 1 for p in paid}, "ledger entries per person"
    events = dict(await rows(stack.engine, """
        SELECT data->>'person_id', count(*) FROM payments.outbox
        WHERE event_type = 'payments.payment_received.v1'
        AND data->>'person_id' = ANY(:ids) GROUP BY 1""", ids=everyone))
    assert events == {p: 1 for p in paid}, "payment events per person"
    orders = dict(await rows(stack.engine, """
        SELECT status, count(*) FROM payments.orders
        WHERE person_id = ANY(CAST(:ids AS uuid[])) GROUP BY status""", ids=everyone))
    assert orders.get("paid", 0) == len(paid)
    assert orders.get("open", 0) == len(registered) - len(paid)
    # reporting: the township's counts are the truth
    row = await progress_row(stack, township)
    got = {k: row[k] for k in ("registered", "paid", "paid_person", "paid_person_fen")}
    assert got == {"registered": len(registered), "paid": len(paid), "paid_person": len(paid),
                   "paid_person_fen": FEE * len(paid)}
    assert await scalar(stack.engine, """
        SELECT count(*) FROM reporting.person_years WHERE township_code = :t AND plan_year = :y""",
        t=township, y=YEAR) == len(everyone)


# -- the tests -----------------------------------------------------------------------------

async def unsent(stack: Stack, service: str) -> int:
    return int(await scalar(stack.engine,
                            f"SELECT count(*) FROM {service}.outbox WHERE sent_at IS NULL"))


async def test_a_broker_away_mid_flow_then_back(stack: Stack) -> None:
    township = "370481104000"
    ids = await upload_students(stack, township, 40)
    orders = await wait_orders(stack, ids)
    paying = asyncio.create_task(pay(stack, {p: orders[p] for p in ids[:20]}))
    await eventually(lambda: _notifications_at_least(stack, [orders[p][0] for p in ids[:20]], 5),
                     30, "webhooks under way", every=0.02)
    stack.broker.cut()  # mid-flow: notifications arriving, relayed, processed
    await paying  # the intake needs only the database
    # Registration and the webhook intake go on without the broker: what they write waits in
    # their outboxes.
    late = [await register_adult(stack, township) for _ in range(10)]
    await pay(stack, {p: orders[p] for p in ids[20:30]})

    async def everyone_sees_the_broker_gone() -> bool:
        for service in SERVICES:
            r = await stack.http.get(f"{stack.url(service)}/readyz")
            if r.status_code != 503 or r.json()["checks"]["broker"] != "unreachable":
                return False
        return True

    await eventually(everyone_sees_the_broker_gone, 20, "readiness 503 everywhere")
    assert await unsent(stack, "registration") >= 20  # 10 persons, 10 enrollments
    assert await unsent(stack, "payments") >= 10  # the notifications' work items
    assert await scalar(stack.engine, "SELECT count(*) FROM eligibility.persons "
                                      "WHERE person_id = ANY(CAST(:ids AS uuid[]))",
                        ids=late) == 0  # nothing reached the consumers
    # Away for longer than the consumers' session timeout: their group memberships expire.
    await asyncio.sleep(4)
    stack.broker.restore()

    late_orders = await wait_orders(stack, late, within=90)
    await pay(stack, late_orders)
    await assert_truth(stack, township, registered=ids + late, paid=ids[:30] + late)
    for service in SERVICES:
        assert stack.process(service).poll() is None, f"{service} died"


async def test_b_postgres_restarted_mid_flow(stack: Stack) -> None:
    township = "370481116000"
    first = await upload_students(stack, township, 40)
    orders = await wait_orders(stack, first)
    # In flight across the restart: the webhooks (a channel retries what is not acknowledged)
    # and the 80 events of a second school list on their way through every consumer.
    paying = asyncio.create_task(pay(stack, {p: orders[p] for p in first[:30]}))
    second = [p for p in await upload_students(stack, township, 40) if p not in set(first)]
    await eventually(lambda: _known_to(stack, "eligibility", second), 30,
                     "the second list under way", every=0.02)
    await restart_postgres(stack.pg, down_seconds=2)
    await paying

    orders = await wait_orders(stack, second, within=90)
    await pay(stack, {p: orders[p] for p in second[:20]})
    await assert_truth(stack, township, registered=first + second,
                       paid=first[:30] + second[:20])
    for service in SERVICES:  # recovered by themselves
        assert stack.process(service).poll() is None, f"{service} died"


async def test_c_consumers_killed_between_database_commit_and_offset_commit(
    stack: Stack,
) -> None:
    township = "370481103000"
    records = {c: stack.state / f"c-{c}.json" for c in ("eligibility", "reporting",
                                                        "payments-processor")}
    armed = {"eligibility": ("eligibility", 2), "reporting": ("reporting", 2),
             "payments": ("payments-processor", 1)}
    await asyncio.gather(*(
        stack.restart(service, failpoints={"kill_after_inbox_commit": {
            "consumer": consumer, "batch": batch, "record": str(records[consumer])}})
        for service, (consumer, batch) in armed.items()))

    async def revive(service: str) -> int:
        code = await stack.wait_exit(service, within=90)
        await stack.start(service)
        return code

    revived = {s: asyncio.create_task(revive(s)) for s in armed}
    ids = await upload_students(stack, township, 40)
    orders = await wait_orders(stack, ids, within=90)
    await pay(stack, {p: orders[p] for p in ids[:30]})  # retried while payments is down
    for service, task in revived.items():
        assert await task == -signal.SIGKILL, f"{service} was not killed by its fail point"

    await assert_truth(stack, township, registered=ids, paid=ids[:30])
    # The batch each one died on was committed in the database but not in Kafka: it came
    # again, and the inbox turned it into duplicates.
    for service, (consumer, _) in armed.items():
        died_on = json.loads(records[consumer].read_text())
        assert died_on["event_ids"]
        duplicates = await stack.metric(service, "canbao_events_duplicate_total", consumer)
        assert duplicates >= len(died_on["event_ids"]), (consumer, duplicates, died_on)


async def read_topics(stack: Stack, wanted: Sequence[str]) -> list[ConsumerRecord]:
    """Everything the topics hold now, from the beginning."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.broker.bootstrap_servers,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetches the cluster's metadata
        partitions = [TopicPartition(t, p) for t in wanted
                      for p in consumer.partitions_for_topic(t) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        got: list[ConsumerRecord] = []
        deadline = time.monotonic() + 30
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, "could not read the topics"
            for records in (await consumer.getmany(timeout_ms=300)).values():
                got.extend(records)
        return got
    finally:
        await consumer.stop()


def _header(record: ConsumerRecord, name: str) -> str:
    return dict(record.headers)[name].decode()


def _aggregate(record: ConsumerRecord) -> tuple[str, ...]:
    """What a revision counts for, per docs/EVENTS.md."""
    data = json.loads(record.value)
    if record.topic == topics.PAYMENTS_PAYMENT:
        return (record.topic, data["order_no"])
    if record.topic in (topics.REGISTRATION_ENROLLMENT, topics.ELIGIBILITY_DETERMINATION):
        return (record.topic, data["person_id"], str(data["plan_year"]))
    return (record.topic, data["person_id"])


async def test_d_duplicated_and_reordered_events_change_nothing(stack: Stack) -> None:
    township = "370481105000"
    ids = await upload_students(stack, township, 30)
    orders = await wait_orders(stack, ids)
    stopped, changed = ids[:5], ids[5:10]
    for p in stopped:  # a newer enrollment revision, and a newer determination after it
        r = await stack.http.post(f"{stack.url('registration')}/v1/enrollments/{p}/{YEAR}/stop",
                                  json={"status": "stopped", "reason": "moved_away"})
        assert r.status_code == 200, r.text
    for p in changed:  # a newer person revision
        r = await stack.http.patch(f"{stack.url('registration')}/v1/persons/{p}",
                                   json={"phone": "13900000000"})
        assert r.status_code == 200 and r.json()["revision"] == 2, r.text
    registered = ids[5:]
    await pay(stack, {p: orders[p] for p in registered[:20]})
    truth = {"registered": registered, "paid": registered[:20], "stopped": stopped}
    await assert_truth(stack, township, **truth)

    # Everything the topics hold about these people, delivered again: each event once more
    # as it was (same id), and each older revision once more as a new event, after the newer
    # one that consumers already hold; newest first, across topics.
    mine = set(ids) | {o for o, _ in orders.values()}
    wanted = (topics.REGISTRATION_PERSON, topics.REGISTRATION_ENROLLMENT,
              topics.ELIGIBILITY_DETERMINATION, topics.PAYMENTS_NOTIFICATION,
              topics.PAYMENTS_PAYMENT)
    captured = [r for r in await read_topics(stack, wanted) if r.key.decode() in mine]
    newest: dict[tuple[str, ...], int] = {}
    for r in captured:
        if r.topic != topics.PAYMENTS_NOTIFICATION:
            key = _aggregate(r)
            newest[key] = max(newest.get(key, 0), json.loads(r.value)["revision"])
    stale = [r for r in captured if r.topic != topics.PAYMENTS_NOTIFICATION
             and json.loads(r.value)["revision"] < newest[_aggregate(r)]]
    assert len(stale) >= len(stopped) * 2 + len(changed)  # enrollment, determination, person
    again = [(r, _header(r, "ce_id")) for r in reversed(captured)]
    again += [(r, str(uuid.uuid4())) for r in stale]
    expected_duplicates = {c: sum(1 for r in captured if r.topic in CONSUMERS[c][1])
                           for c in CONSUMERS}
    assert all(expected_duplicates.values()), expected_duplicates
    service_of = {"eligibility": "eligibility", "payments": "payments",
                  "payments-processor": "payments", "reporting": "reporting"}
    before = {c: await stack.metric(service_of[c], "canbao_events_duplicate_total", c)
              for c in CONSUMERS}

    producer = AIOKafkaProducer(bootstrap_servers=stack.broker.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for record, event_id in again:
            headers = [(k, event_id.encode() if k == "ce_id" else v) for k, v in record.headers]
            await producer.send_and_wait(record.topic, value=record.value, key=record.key,
                                         headers=headers)
    finally:
        await producer.stop()

    async def all_seen() -> dict[str, float] | None:
        got = {c: await stack.metric(service_of[c], "canbao_events_duplicate_total", c)
               - before[c] for c in CONSUMERS}
        return got if got == expected_duplicates else None

    await eventually(all_seen, 60, f"duplicates {expected_duplicates}")
    fresh = [event_id for r, event_id in again[len(captured):]]
    for consumer, (schema, wanted_topics) in CONSUMERS.items():
        expect = sum(1 for r in stale if r.topic in wanted_topics)
        await eventually(lambda s=schema, c=consumer, e=expect: _inboxed(stack, s, c, fresh, e),
                         60, f"{consumer} received the stale events")
    await assert_truth(stack, township, **truth)
    for table in ("eligibility.persons", "payments.persons", "reporting.persons"):
        revisions = dict(await rows(stack.engine, f"""
            SELECT person_id::text, revision FROM {table}
            WHERE person_id = ANY(CAST(:ids AS uuid[]))""", ids=changed))
        assert revisions == {p: 2 for p in changed}, table


async def _inboxed(stack: Stack, schema: str, consumer: str, ids: list[str], expect: int) -> bool:
    return await scalar(stack.engine, f"""SELECT count(*) FROM {schema}.inbox
                        WHERE consumer = :c AND event_id = ANY(:ids)""",
                        c=consumer, ids=ids) == expect


async def test_e_relay_killed_in_the_middle_of_a_large_batch(stack: Stack) -> None:
    township = "370481107000"
    record = stack.state / "e-relay.json"
    await stack.restart("registration", failpoints={
        "kill_relay_mid_batch": {"after_sends": 100, "record": str(record)}})
    before = {s: await stack.metric(s, "canbao_events_duplicate_total", s)
              for s in ("eligibility", "reporting")}
    # One school list: 150 students, 300 events committed at once, one relay batch. The relay
    # dies when the broker has acknowledged 100 of them, none of them marked sent; it may
    # die before the upload is answered.
    numbers = [new_id_number(2007) for _ in range(150)]
    try:
        await stack.http.post(f"{stack.url('registration')}/v1/students/upload",
                              files={"file": ("students.csv", students_csv(numbers))},
                              data={"plan_year": str(YEAR), "township_code": township})
    except httpx.TransportError:
        pass
    assert await stack.wait_exit("registration", within=30) == -signal.SIGKILL
    died = json.loads(record.read_text())
    assert died["acknowledged"] == 100
    ids = await person_ids(stack, township)
    assert len(ids) == 150
    assert await unsent(stack, "registration") == 300  # published or not, none marked sent

    # What the broker acknowledged reaches the consumers while registration is down.
    await eventually(lambda: _inboxed(stack, "eligibility", "eligibility", died["event_ids"], 100),
                     30, "the acknowledged events consumed")
    # The next relay takes the dead one's shards when their leases expire and publishes the
    # whole batch again: 100 events twice.
    await stack.start("registration")
    orders = await wait_orders(stack, ids, within=90)
    await pay(stack, {p: orders[p] for p in ids[:50]})
    await assert_truth(stack, township, registered=ids, paid=ids[:50])
    for service in ("eligibility", "reporting"):
        duplicates = await stack.metric(service, "canbao_events_duplicate_total", service)
        assert duplicates - before[service] >= 100, service


async def test_f_sigterm_drains_in_flight_requests_and_events(stack: Stack) -> None:
    township = "370481109000"
    registration = stack.url("registration")
    stopping = ("registration", "payments", "reporting")
    # Their relays poll the outbox every 2 seconds only (as one backing off after an error
    # would): what the last requests and batches wrote is published at shutdown or not at all.
    slow = {"CANBAO_RELAY_POLL_INTERVAL_MS": "2000"}
    await asyncio.gather(*(stack.restart(s, env=slow) for s in ("registration", "payments")))
    students = await upload_students(stack, township, 40)
    orders = await wait_orders(stack, students)

    numbers = [new_id_number(1980) for _ in range(40)]
    outcome: dict[str, dict[str, Any]] = {n: {} for n in numbers}
    gate = asyncio.Semaphore(8)

    async def register(number: str) -> None:
        state = outcome[number]
        async with gate:
            try:
                r = await stack.http.post(f"{registration}/v1/persons", json={
                    "id_number": number, "name": "李四", "township_code": township})
            except httpx.TransportError:
                state["person"] = "not answered"
                return
            assert r.status_code == 201, r.text  # a request taken is answered in full
            state["person"] = r.json()["person_id"]
            try:
                r = await stack.http.post(f"{registration}/v1/enrollments", json={
                    "person_id": state["person"], "plan_year": YEAR})
            except httpx.TransportError:
                state["enrollment"] = "not answered"
                return
            assert r.status_code == 201, r.text
            state["enrollment"] = "ok"

    # Requests coming in, webhooks coming in, events flowing: then SIGTERM to the three.
    requests = asyncio.gather(*(register(n) for n in numbers))
    paying = asyncio.create_task(pay(stack, {p: orders[p] for p in students[:30]}))
    await eventually(lambda: _registered_at_least(stack, township, len(students) + 8), 30,
                     "registrations under way")
    await eventually(lambda: _notifications_at_least(
        stack, [orders[p][0] for p in students[:30]], 5), 30, "webhooks under way")
    marks = {s: stack.log_size(s) for s in stopping}
    for service in stopping:
        stack.process(service).send_signal(signal.SIGTERM)
    await requests
    for service in stopping:
        await stack.stop_gracefully(service, marks[service])

    answered = [s["person"] for s in outcome.values() if s["person"] != "not answered"]
    assert answered, "no request was in flight"
    # Every request registration took was answered; one it did not answer did nothing.
    assert sorted(await person_ids(stack, township)) == sorted(students + answered)
    # What the requests and the last batches wrote was published before the processes ended,
    # and the relays gave their shards back.
    for service in ("registration", "payments"):
        assert await unsent(stack, service) == 0, service
        assert await scalar(stack.engine, f"SELECT count(*) FROM {service}.outbox_lease "
                                          "WHERE lease_until > now()") == 0, service

    await asyncio.gather(*(stack.start(s) for s in stopping))
    for number, state in outcome.items():  # the client tries again what was not answered
        if state["person"] == "not answered":
            r = await stack.http.post(f"{registration}/v1/persons", json={
                "id_number": number, "name": "李四", "township_code": township})
            assert r.status_code == 201, r.text  # 409 would mean it had been done unanswered
            state["person"] = r.json()["person_id"]
        if state.get("enrollment") != "ok":
            r = await stack.http.post(f"{registration}/v1/enrollments", json={
                "person_id": state["person"], "plan_year": YEAR})
            assert r.status_code == 201, r.text  # likewise
    adults = [s["person"] for s in outcome.values()]
    await paying
    await assert_truth(stack, township, registered=students + adults, paid=students[:30])
    # The consumers committed the offsets of everything they had applied: nothing came twice.
    for service, consumer in (("reporting", "reporting"), ("payments", "payments"),
                              ("payments", "payments-processor")):
        assert await stack.metric(service, "canbao_events_duplicate_total", consumer) == 0


async def test_g_two_replicas_of_every_service_one_of_each_killed_mid_flow(stack: Stack) -> None:
    """Two processes of every service share the consumer groups and the outbox shards. A
    school's list, adults registered and renamed through both registration replicas, and the
    payments of all of them through both payments replicas; one replica of each service is
    killed (SIGKILL: no shutdown at all) in the middle. Nothing lost, nothing applied twice
    (assert_truth on this township's own people), and per-person order kept: every consumer
    holds each person's last revision (three renames each, sent alternately to the two
    replicas), never an older one applied after a newer."""
    township = "370481110000"
    second: dict[str, ServiceProcess] = {}
    for name in SERVICES:
        svc = ServiceProcess(name, free_port(), stack.state / "logs" / f"{name}-2.log")
        svc.start(stack.env)
        second[name] = svc
    try:
        for name, svc in second.items():
            await wait_ready_at(stack, svc, name)
        urls = {name: (stack.url(name), second[name].url) for name in SERVICES}

        students = await upload_students(stack, township, 40)
        adults = [await register_adult_at(stack, urls["registration"][i % 2], township)
                  for i in range(10)]

        async def renames() -> None:
            for round_no in range(3):
                for i, person in enumerate(adults):
                    base = urls["registration"][(i + round_no) % 2]
                    r = await stack.http.patch(f"{base}/v1/persons/{person}",
                                               json={"name": f"改名{round_no}号"})
                    assert r.status_code == 200, r.text

        await renames()
        await eventually(lambda: _orders_at_least(stack, students, 10), 60,
                         "first orders under way")
        # one replica of each service goes away without a word, mid-flow
        for name in SERVICES:
            stack.system.services[name].stop(sig=signal.SIGKILL)
        everyone = students + adults
        orders = await wait_orders(stack, everyone, within=120)
        await pay_at(stack, urls["payments"][1], orders)
        # the killed replicas come back and join their groups again while the rest flows
        await asyncio.gather(*(stack.start(name) for name in SERVICES))
        await assert_truth(stack, township, registered=everyone, paid=everyone, within=120)
        latest = dict(await rows(stack.engine, "SELECT id::text, revision FROM "
                                 "registration.persons WHERE id = ANY(CAST(:ids AS uuid[]))",
                                 ids=adults))
        assert set(latest.values()) == {4}, latest  # created, then renamed three times
        for consumer in ("eligibility", "payments", "reporting"):
            held = dict(await rows(stack.engine, f"SELECT person_id::text, revision FROM "
                                   f"{consumer}.persons WHERE person_id = ANY(CAST(:ids AS "
                                   f"uuid[]))", ids=adults))
            assert held == latest, consumer
    finally:
        for svc in second.values():
            await asyncio.to_thread(svc.stop)
        await asyncio.gather(*(stack.start(name) for name in SERVICES
                               if stack.process(name) is None))


async def wait_ready_at(stack: Stack, svc: ServiceProcess, name: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if (await stack.http.get(f"{svc.url}/readyz", timeout=3)).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if svc.process is not None and svc.process.poll() is not None:
            raise AssertionError(f"{name} replica exited:\n{svc.log_tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} replica not ready:\n{svc.log_tail()}")
        await asyncio.sleep(0.1)


async def register_adult_at(stack: Stack, base: str, township: str) -> str:
    r = await stack.http.post(f"{base}/v1/persons", json={
        "id_number": new_id_number(1980), "name": "王小明", "township_code": township})
    assert r.status_code == 201, r.text
    person_id = r.json()["person_id"]
    r = await stack.http.post(f"{base}/v1/enrollments",
                              json={"person_id": person_id, "plan_year": YEAR})
    assert r.status_code == 201, r.text
    return str(person_id)


async def pay_at(stack: Stack, base: str, orders: dict[str, tuple[str, int]]) -> None:
    """Each order paid once through the bank's signed webhook at `base`."""
    for order_no, amount in orders.values():
        headers, body = Webhook(order_no, amount).request()
        r = await stack.http.post(f"{base}/v1/webhooks/{BANK}", content=body, headers=headers)
        assert r.status_code in (200, 204), r.text


async def _orders_at_least(stack: Stack, ids: Sequence[str], n: int) -> bool:
    return len(await open_orders(stack, ids)) >= n


async def _registered_at_least(stack: Stack, township: str, n: int) -> bool:
    return len(await person_ids(stack, township)) >= n


async def _known_to(stack: Stack, service: str, ids: Sequence[str]) -> bool:
    return await scalar(stack.engine, f"SELECT count(*) FROM {service}.persons "
                                      "WHERE person_id = ANY(CAST(:ids AS uuid[]))",
                        ids=list(ids)) > 0


async def _notifications_at_least(stack: Stack, order_nos: list[str], n: int) -> bool:
    return await scalar(stack.engine, "SELECT count(*) FROM payments.notifications "
                                      "WHERE normalized->>'order_no' = ANY(:o)",
                        o=order_nos) >= n


def _as_sqlalchemy_raises(error: Exception) -> Exception:
    """`error` (an asyncpg exception) as SQLAlchemy's asyncpg dialect raises it."""
    import asyncpg
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
    from sqlalchemy.exc import DBAPIError

    dbapi = AsyncAdapt_asyncpg_dbapi(asyncpg)
    translate = dbapi._asyncpg_error_translate
    adapted = next(translate[c] for c in type(error).__mro__ if c in translate)(str(error), error)
    adapted.__cause__ = error
    return DBAPIError.instance("SELECT 1", {}, adapted, dbapi.Error)


def test_database_going_away_is_transient_however_the_driver_wraps_it() -> None:
    """What test b met: "the database system is shutting down" (57P03) came wrapped in
    SQLAlchemy's generic DBAPIError, was taken for a poison message and dead-lettered; and
    "cannot switch to state 15; another operation (2) is in progress" (asyncpg's
    InternalClientError) from a connection still reading the error of the stopping server."""
    import asyncpg

    from shared.inbox import is_transient

    errors = asyncpg.exceptions
    for away in (errors.CannotConnectNowError, errors.AdminShutdownError,
                 errors.TooManyConnectionsError, errors.DeadlockDetectedError,
                 errors.SerializationError, errors.InternalClientError):
        assert is_transient(_as_sqlalchemy_raises(away("gone"))), away
    for poison in (errors.UniqueViolationError, errors.DataError,
                   errors.InvalidTextRepresentationError):
        assert not is_transient(_as_sqlalchemy_raises(poison("bad"))), poison
    assert not is_transient(ValueError("bad payload"))
