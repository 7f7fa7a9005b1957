"""The four services in-process with tokens on, two counties seeded through their own APIs, and
the events carried between them by calling the consumers' handlers (no broker needed).

County A is Tengzhou (370481, two townships), county B is Pingyin (370124). Every token minted
for a side has a subject starting `secA-` / `secB-`, so what a side wrote (audit entries) can
be recognised in another side's answers."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import importlib
import io
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from devtools.testing.apps import every_page
from devtools.testing.infra import TestInfra
from services.payments.app import create_app as create_payments_app
from services.payments.channels.standard_webhooks import signed_headers
from services.payments.settings import PaymentsSettings
from shared.auth import NATIONAL, ensure_dev_keypair, mint_token
from shared.events import CloudEvent
from shared.idnumber import check_character
from shared.security_settings import get_security_settings
from shared.web_session import SessionSigner
from tests.security.routes import PLAN_YEAR, Side

SERVICES = ("registration", "eligibility", "payments", "reporting")
SESSION_SECRET = "security-suite-session-secret-0123456789abcdef"
COUNTY_A, COUNTY_B = "370481", "370124"
TOWNSHIP_A, TOWNSHIP_A2, TOWNSHIP_B = "370481001000", "370481002000", "370124001000"
VILLAGE_A, VILLAGE_A2, VILLAGE_B = "370481001901", "370481002901", "370124001901"
VILLAGE_NAMES = {VILLAGE_A: "安检甲村", VILLAGE_A2: "安检丙村", VILLAGE_B: "安检乙村"}
# a bank account collecting for each county (Standard Webhooks), to put money in suspense
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"security-suite-webhook-secret-01").decode()
CHANNELS = {"370481": "bank_seca", "370124": "bank_secb"}
FORMULAS = ('=HYPERLINK("http://x")', "+1", "-1", "@SUM(A1)")
# tables whose rows a refused request may add: its audit entry, its error report
NOT_STATE = ("audit", "error_report", "inbox", "lease", "alembic", "rate")


def new_id_number(county: str, born: dt.date) -> str:
    first17 = f"{county}{born:%Y%m%d}{int.from_bytes(os.urandom(2), 'big') % 1000:03d}"
    return first17 + check_character(first17)


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


@dataclass
class Tokens:
    private: bytes
    kid: str
    signer: SessionSigner

    def claims_token(self, *, sub: str, role: str | None, region: str | None,
                     department: str | None = None) -> str:
        return mint_token(self.private, self.kid, sub=sub, role=role, region=region,
                          department=department, issuer="canbao", audience="canbao")

    def staff(self, role: str, region: str, label: str) -> dict[str, str]:
        department = "civil_affairs" if role == "department_officer" else None
        token = self.claims_token(sub=f"sec{label}-{role}", role=role, region=region,
                                  department=department)
        return {"authorization": f"Bearer {token}"}


@dataclass
class World:
    infra: TestInfra
    apps: dict[str, FastAPI]
    clients: dict[str, httpx.AsyncClient]
    tokens: Tokens
    keys_dir: Path
    a: Side | None = None
    b: Side | None = None
    a_people: list[dict[str, Any]] = field(default_factory=list)
    b_people: list[dict[str, Any]] = field(default_factory=list)
    formula_people: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)   # order numbers of the seeded bills
    outbox_seen: dict[str, int] = field(default_factory=dict)

    def other(self, side: Side) -> Side:
        return self.b if side.label == "A" else self.a  # type: ignore[return-value]

    def caller(self, role: str, side: Side) -> dict[str, str]:
        """A staff member of the side's county (township staff: of its first township)."""
        region = side.township if role == "township_staff" else side.county
        return self.tokens.staff(role, region, side.label)

    def admin(self) -> dict[str, str]:
        return self.tokens.staff("administrator", NATIONAL, "N")

    def markers(self, side: Side) -> set[str]:
        """Strings that only appear in an answer that carries the side's rows."""
        people = self.a_people if side.label == "A" else self.b_people
        found = {p["person_id"] for p in people} | {p["household_id"] for p in people
                                                   if p.get("household_id")}
        found |= {side.township, side.village, side.report_id, VILLAGE_NAMES[side.village],
                  f"sec{side.label}-"}
        if side.other_township:
            found |= {side.other_township, side.other_village or ""}
        return {m for m in found if m}

    # --- events ----------------------------------------------------------------------------

    async def pump(self) -> int:
        """Deliver every new outbox row to the consumers that subscribe to its topic, as the
        relay and the inbox would, until no service writes more; rows are marked sent."""
        total = 0
        while True:
            moved = 0
            for name in SERVICES:
                runtime = self.apps[name].state.runtime
                async with runtime.engine.connect() as conn:
                    rows = (await conn.execute(text(
                        f"SELECT seq, event_id, topic, partition_key, event_type, source, subject,"
                        f" correlation_id, data::text AS data, created_at FROM {name}.outbox "
                        f"WHERE seq > :seen AND sent_at IS NULL ORDER BY seq"),
                        {"seen": self.outbox_seen.get(name, 0)})).all()
                for r in rows:
                    event = CloudEvent(id=str(r.event_id), source=r.source, type=r.event_type,
                                       time=r.created_at, subject=r.subject,
                                       partitionkey=r.partition_key,
                                       correlationid=r.correlation_id,
                                       data=orjson.loads(r.data))
                    await self.deliver(r.topic, event)
                    self.outbox_seen[name] = r.seq
                if rows:
                    async with runtime.engine.begin() as conn:
                        await conn.execute(text(
                            f"UPDATE {name}.outbox SET sent_at = now() WHERE seq = ANY(:s)"),
                            {"s": [r.seq for r in rows]})
                moved += len(rows)
            total += moved
            if not moved:
                return total

    async def deliver(self, topic: str, event: CloudEvent) -> None:
        for name in SERVICES:
            runtime = self.apps[name].state.runtime
            for spec in runtime.consumer_specs:
                if topic not in spec.topics:
                    continue
                async with runtime.sessions() as session, session.begin():
                    await spec.handler(session, event)

    async def mark_outboxes(self) -> None:
        for name in SERVICES:
            async with self.apps[name].state.runtime.engine.connect() as conn:
                self.outbox_seen[name] = (await conn.execute(text(
                    f"SELECT coalesce(max(seq), 0) FROM {name}.outbox"))).scalar_one()

    # --- state -----------------------------------------------------------------------------

    async def snapshot(self, service: str = "registration") -> dict[str, str]:
        """A digest of every state table of the service (audit log, error reports, inbox and
        leases left out)."""
        engine = self.apps[service].state.runtime.engine
        async with engine.connect() as conn:
            tables = (await conn.execute(text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = :s "
                "AND table_type = 'BASE TABLE'"), {"s": service})).scalars().all()
            digest = {}
            for table in sorted(tables):
                if any(word in table for word in NOT_STATE):
                    continue
                digest[table] = (await conn.execute(text(
                    f"SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' "
                    f"ORDER BY t::text)), '') FROM {service}.{table} t"))).scalar_one()
        return digest

    async def count_persons(self) -> int:
        async with self.apps["registration"].state.runtime.engine.connect() as conn:
            return (await conn.execute(text("SELECT count(*) FROM registration.persons"))
                    ).scalar_one()


@asynccontextmanager
async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan; an exception the app lets out is the 500 a server would
    answer (not raised into the test)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@asynccontextmanager
async def secured_world(infra: TestInfra, keys_dir: Path) -> AsyncIterator[World]:
    private_path, _, kid = ensure_dev_keypair(keys_dir)
    mp = pytest.MonkeyPatch()
    mp.setenv("CANBAO_AUTH_ENABLED", "true")
    mp.setenv("CANBAO_JWT_PUBLIC_KEYS_DIR", str(keys_dir))
    mp.setenv("CANBAO_RATE_LIMIT_ENABLED", "false")
    mp.setenv("CANBAO_SESSION_SECRET", SESSION_SECRET)
    get_security_settings.cache_clear()
    try:
        settings = infra.settings(consumers_enabled=False, relay_enabled=False)
        apps = {s: importlib.import_module(f"services.{s}.app").create_app(settings)
                for s in SERVICES if s != "payments"}
        apps["payments"] = create_payments_app(settings, PaymentsSettings(
            webhook_secrets={c: [WEBHOOK_SECRET] for c in CHANNELS.values()},
            webhook_regions={c: county for county, c in CHANNELS.items()}))
        signer = SessionSigner(get_security_settings().session_key(),
                               get_security_settings().session_max_age_seconds)
    finally:
        mp.undo()
        get_security_settings.cache_clear()
    tokens = Tokens(Path(private_path).read_bytes(), kid, signer)  # noqa: ASYNC240
    async with AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(_client(app))
                   for name, app in apps.items()}
        world = World(infra, apps, clients, tokens, keys_dir)
        await world.mark_outboxes()
        await seed(world)
        yield world


# --- seeding ---------------------------------------------------------------------------------

async def _ok(r: httpx.Response, *codes: int) -> dict[str, Any]:
    assert r.status_code in (codes or (200, 201)), f"seeding: {r.request.method} " \
        f"{r.request.url}: {r.status_code} {r.text[:500]}"
    return r.json() if r.content else {}


async def _register(world: World, label: str, township: str, village: str, name: str,
                    born: dt.date) -> dict[str, Any]:
    reg = world.clients["registration"]
    id_number = new_id_number(township[:6], born)
    r = await reg.post("/v1/persons", headers=world.admin(), json={
        "id_number": id_number, "name": name, "township_code": township,
        "village_code": village, "household_no": f"SEC{uuid.uuid4().hex[:12]}",
        "relation_to_head": "户主", "phone": "13800001234"})
    if r.status_code != 201:
        return {"refused": r.status_code, "name": name}
    person = r.json()
    await _ok(await reg.post("/v1/enrollments", headers=world.admin(), json={
        "person_id": person["person_id"], "plan_year": PLAN_YEAR}), 201)
    return {**person, "id_number": id_number, "name": name, "birth_date": born.isoformat(),
            "label": label}


async def _error_report(world: World, side_label: str, county: str, person: dict[str, Any]
                        ) -> str:
    """A list upload by the county's officer with rows it refuses (one naming a formula):
    the id of its error report."""
    headers = world.tokens.staff("medical_insurance_officer", county, side_label)
    body = csv_bytes([["姓名", "身份证号", "类别", "认定日期"],
                      [person["name"], person["id_number"], FORMULAS[0], "2024-03-01"],
                      ["@SUM(A1)", "37048119800101001", "低保对象", "2024-03-01"]])
    r = await world.clients["registration"].post(
        f"/v1/lists/civil_affairs/{PLAN_YEAR}", headers=headers,
        files={"file": (f"sec{side_label}-bad.csv", body)})
    assert r.status_code == 422, f"seeding error report: {r.status_code} {r.text[:300]}"
    return r.json()["error"]["error_report_id"]


async def seed(world: World) -> None:
    reg = world.clients["registration"]
    admin = world.admin()
    villages = csv_bytes([["村代码", "村名称", "所属乡镇代码"],
                          *[[v, n, v[:9] + "000"] for v, n in VILLAGE_NAMES.items()]])
    await _ok(await reg.post("/v1/regions/villages", headers=admin,
                             files={"file": ("villages.csv", villages)}))
    a1 = await _register(world, "A", TOWNSHIP_A, VILLAGE_A, "甲安检", dt.date(1975, 3, 14))
    a2 = await _register(world, "A", TOWNSHIP_A2, VILLAGE_A2, "丙安检", dt.date(1981, 7, 2))
    b1 = await _register(world, "B", TOWNSHIP_B, VILLAGE_B, "乙安检", dt.date(1968, 11, 23))
    b2 = await _register(world, "B", TOWNSHIP_B, VILLAGE_B, "丁安检", dt.date(1972, 5, 30))
    a3 = await _register(world, "A", TOWNSHIP_A, VILLAGE_A, "戊安检", dt.date(1979, 9, 9))
    for person in (a1, a2, a3, b1, b2):
        assert "refused" not in person, f"seeding: registering {person}"
    # people named as a formula (registration may refuse such names; reporting gets them
    # below through its own handler either way)
    named = []
    for i, formula in enumerate(FORMULAS):
        p = await _register(world, "A", TOWNSHIP_A, VILLAGE_A, formula,
                            dt.date(1990, 1, 1 + i))
        if "refused" not in p:
            world.formula_people.append(p["person_id"])
            named.append(p)
    # half of them pay in full (publicity lists), half are on a list (funding applications)
    paying, listed = named[: len(named) // 2], named[len(named) // 2:]
    # B's list first: while a list upload still replaces every county's list, A's stays
    for label, county, township, people in (("B", COUNTY_B, TOWNSHIP_B, [b1]),
                                            ("A", COUNTY_A, TOWNSHIP_A, [a1, *listed])):
        officer = world.tokens.staff("medical_insurance_officer", county, label)
        await _ok(await reg.put(f"/v1/targets/{PLAN_YEAR}/{township}", headers=officer,
                                json={"target": 10}))
        listing = csv_bytes([["姓名", "身份证号", "类别", "认定日期"],
                             *[[p["name"], p["id_number"], "低保对象", "2024-03-01"]
                               for p in people]])
        await _ok(await reg.post(f"/v1/lists/civil_affairs/{PLAN_YEAR}", headers=officer,
                                 files={"file": (f"sec{label}-list.csv", listing)}))
    report_a = await _error_report(world, "A", COUNTY_A, a1)
    report_b = await _error_report(world, "B", COUNTY_B, b1)
    world.a_people = [a1, a2, a3]
    world.b_people = [b1, b2]
    await world.pump()
    for county, person in ((COUNTY_A, a2), (COUNTY_B, b2)):  # not on a list: they pay
        await _underpay(world, county, person)
    for person in [*paying, a3]:
        await _pay_in_full(world, COUNTY_A, person)
    await world.pump()
    money = {"A": await _suspense_ids(world, COUNTY_A, a2),
             "B": await _suspense_ids(world, COUNTY_B, b2)}
    world.a = Side("A", COUNTY_A, TOWNSHIP_A, VILLAGE_A, a1["person_id"], a1["household_id"],
                   a1["id_number"], a1["name"], a1["birth_date"], report_a,
                   other_township=TOWNSHIP_A2, other_village=VILLAGE_A2,
                   other_person_id=a2["person_id"], suspense_id=money["A"][0],
                   unmatched_suspense_id=money["A"][1])
    world.b = Side("B", COUNTY_B, TOWNSHIP_B, VILLAGE_B, b1["person_id"], b1["household_id"],
                   b1["id_number"], b1["name"], b1["birth_date"], report_b,
                   suspense_id=money["B"][0], unmatched_suspense_id=money["B"][1])
    world.a = await _plan_draft(world, world.a)
    world.b = await _plan_draft(world, world.b)
    for model in (a1, a3):  # one on a list, one who paid in full
        await _formula_copies(world, model)
    for label, person in (("A", a1), ("B", b1)):
        county = COUNTY_A if label == "A" else COUNTY_B
        officer = world.tokens.staff("medical_insurance_officer", county, label)
        await _ok(await world.clients["reporting"].post(
            f"/v1/reminders/{person['person_id']}/{PLAN_YEAR}/reason", headers=officer,
            json={"reason": "other", "note": FORMULAS[0]}), 200, 201, 422)
    await world.pump()


async def _plan_draft(world: World, side: Side) -> Side:
    """A draft of the side's county plan (its plan in force, uploaded again) and the number of
    that plan's publication."""
    officer = world.tokens.staff("medical_insurance_officer", side.county, side.label)
    eligibility = world.clients["eligibility"]
    plan = (await eligibility.get(f"/v1/plans/{side.county}/{PLAN_YEAR}", headers=officer)).json()
    r = await eligibility.post("/v1/plans/drafts", json={"plan": plan["content"]},
                               headers=officer)
    await _ok(r, 201)
    history = (await eligibility.get(f"/v1/plans/{side.county}/{PLAN_YEAR}/history",
                                     headers=officer)).json()["publications"]
    return replace(side, draft_id=r.json()["id"], publication=next(
        p["publication"] for p in history if p["in_force"]))


async def _formula_copies(world: World, model: dict[str, Any]) -> None:
    """Reporting's copies of people named as formulas, whatever registration makes of such
    names: the model's own events (as registration, eligibility and payments wrote them) under
    a new person id and a formula name."""
    events = []
    for name in ("registration", "eligibility", "payments"):
        async with world.apps[name].state.runtime.engine.connect() as conn:
            events += (await conn.execute(text(
                f"SELECT topic, event_type, source, data FROM {name}.outbox "
                f"WHERE data->>'person_id' = :p ORDER BY seq"), {"p": model["person_id"]})).all()
    for formula in FORMULAS:
        person_id = str(uuid.uuid4())
        world.formula_people.append(person_id)
        for row in events:
            data = dict(row.data)
            data["person_id"] = person_id
            if "name_masked" in data:
                data["name_masked"] = formula
            if "name" in data:
                data["name"] = formula
            for unique in ("order_no", "channel_txn_id"):
                if unique in data:
                    data[unique] = f"{data[unique]}-{person_id[:8]}"
            event = CloudEvent(source=row.source, type=row.event_type, data=data,
                               partitionkey=person_id)
            for spec in world.apps["reporting"].state.runtime.consumer_specs:
                if row.topic in spec.topics:
                    async with world.apps["reporting"].state.runtime.sessions() as session, \
                            session.begin():
                        await spec.handler(session, event)


def webhook_body(order_no: str, amount_fen: Any) -> bytes:
    """A Standard Webhooks notification (`amount_fen` as raw JSON text when given as bytes)."""
    amount = amount_fen if isinstance(amount_fen, bytes) else orjson.dumps(amount_fen)
    return b'{"type": "payment.succeeded", "data": {"order_no": ' + orjson.dumps(order_no) + \
        b', "channel_txn_id": ' + orjson.dumps(f"SEC{uuid.uuid4().hex[:16]}") + \
        b', "amount_fen": ' + amount + b', "paid_at": "2024-12-01T10:00:00+08:00"}}'


def signed(body: bytes) -> dict[str, str]:
    """The headers the county's bank puts on a notification."""
    headers = signed_headers(WEBHOOK_SECRET, f"msg_{uuid.uuid4().hex}",
                             int(dt.datetime.now(dt.UTC).timestamp()), body)
    return {**headers, "content-type": "application/json"}


async def _pay_in_full(world: World, county: str, person: dict[str, Any]) -> None:
    pay = world.clients["payments"]
    bill = await _ok(await pay.post("/v1/bills/lookup", headers=world.admin(), json={
        "id_number": person["id_number"], "plan_year": PLAN_YEAR, "on": "2024-12-01"}))
    assert bill.get("order_no"), f"seeding: no order for {person['name']}: {bill}"
    body = webhook_body(bill["order_no"], bill["amount_fen"])
    await _ok(await pay.post(f"/v1/webhooks/{CHANNELS[county]}", headers=signed(body),
                             content=body), 200, 202, 204)


async def _underpay(world: World, county: str, person: dict[str, Any]) -> None:
    """The person's bill paid with one fen by the county's bank: money in suspense that names
    the person (underpaid)."""
    pay = world.clients["payments"]
    bill = await _ok(await pay.post("/v1/bills/lookup", headers=world.admin(), json={
        "id_number": person["id_number"], "plan_year": PLAN_YEAR, "on": "2024-12-01"}))
    assert bill.get("order_no"), f"seeding: no order for {person['name']}: {bill}"
    world.orders.append(bill["order_no"])
    body = webhook_body(bill["order_no"], 1)
    await _ok(await pay.post(f"/v1/webhooks/{CHANNELS[county]}", headers=signed(body),
                             content=body), 200, 202, 204)


async def _suspense_ids(world: World, county: str, person: dict[str, Any]) -> tuple[int, int]:
    """(the person's open suspense item, the item of money the county's bank received for an
    order nobody knows)."""
    body = webhook_body("CB-SEC-UNKNOWN-ORDER", 500)
    await _ok(await world.clients["payments"].post(
        f"/v1/webhooks/{CHANNELS[county]}", headers=signed(body), content=body), 200, 202, 204)
    await world.pump()
    items = await every_page(world.clients["payments"], "/v1/suspense", headers=world.admin(),
                             limit=500)
    mine = sorted(i["suspense_id"] for i in items if i["person_id"] == person["person_id"])
    unknown = sorted(i["suspense_id"] for i in items if i["person_id"] is None
                     and i["channel"] == CHANNELS[county])
    assert mine and unknown, f"seeding: suspense of {county}: {items}"
    return mine[0], unknown[-1]
