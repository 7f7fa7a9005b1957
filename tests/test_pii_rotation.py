"""`canbao pii rotate` across suites (version 1 AES-256-GCM/HMAC-SHA256 -> version 2
SM4-GCM/HMAC-SM3) on a database of its own, with registration answering lookups and payments
answering bill lookups before, during (half rotated) and after; a run killed inside a batch
changes nothing of that batch, and the next run carries on."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from devtools.infra import create_database
from devtools.testing.apps import running_app
from devtools.testing.infra import TestInfra
from services.payments.bills.service import BillService
from services.pii_rotation import rotate
from services.registration.app import create_app
from shared.errors import NotFound
from shared.idnumber import check_character
from shared.migrations import upgrade_all
from shared.pii import PiiVault, vault_for
from shared.settings import DEV_PII_KEY, Settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEW_KEY = "Zr8-v2-sm4-" + "Qm3Xc7Nw1Kp5Tb9Hd2Lf6Jg0"
TOWNSHIP = "370481001000"
PREVIOUS = {1: {"suite": "aes", "key": DEV_PII_KEY}}


def new_id_number(n: int) -> str:
    day = dt.date(1960, 1, 1) + dt.timedelta(days=int.from_bytes(os.urandom(2), "big") % 15_000)
    first17 = f"370481{day:%Y%m%d}{n % 1000:03d}"
    return first17 + check_character(first17)


@pytest.fixture(scope="module")
async def database(infra: TestInfra) -> AsyncIterator[str]:
    """A database of its own: rotation moves every row of it to the new key."""
    url = await create_database(infra.database_url, f"canbao_rotate_{uuid.uuid4().hex[:8]}",
                                drop_first=True)
    await asyncio.to_thread(upgrade_all, url)
    yield url


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def settings_v1(infra: TestInfra, url: str) -> Settings:
    return infra.settings(database_url=url, consumers_enabled=False, relay_enabled=False)


def settings_v2(infra: TestInfra, url: str, *, previous: bool = True) -> Settings:
    return infra.settings(database_url=url, consumers_enabled=False, relay_enabled=False,
                          pii_key=NEW_KEY, pii_key_version=2, pii_suite="sm4",
                          pii_previous_keys=PREVIOUS if previous else {})


async def labels(conn: asyncpg.Connection) -> dict[str, list[str]]:
    """Per stored column, the key label of every value (v1.aes, v2.sm4, or legacy)."""
    def label(v: str | None) -> str:
        return "none" if v is None else v.partition(":")[0] if ":" in v else "legacy"
    out: dict[str, list[str]] = {}
    for name, sql in {
        "persons.enc": "SELECT id_number_enc FROM registration.persons",
        "persons.hash": "SELECT id_number_hash FROM registration.persons",
        "reference.hash": "SELECT id_number_hash FROM registration.reference_persons",
        "payments.hash": "SELECT id_number_hash FROM payments.persons",
        "reporting.phone": "SELECT phone_enc FROM reporting.persons",
        "reporting.name": "SELECT name_enc FROM reporting.persons",
    }.items():
        out[name] = sorted(label(r[0]) for r in await conn.fetch(sql))
    return out


async def everyone_is_found(settings: Settings, people: list[dict[str, Any]]) -> None:
    """Registration's lookup and full-ID read, and payments' bill lookup, find every person
    by ID number under these settings' keys."""
    vault = vault_for(settings)
    app = create_app(settings)
    async with running_app(app) as client:
        for p in people:
            r = await client.post("/v1/persons/lookup", json={"id_number": p["id_number"]})
            assert r.status_code == 200, (p["id_number"], r.text)
            assert r.json()["person_id"] == p["person_id"]
            full = await client.get(f"/v1/persons/{p['person_id']}/id-number")
            assert full.status_code == 200 and full.json()["id_number"] == p["id_number"]
    pool = await asyncpg.create_pool(dsn(settings.database_url), min_size=1, max_size=2)
    try:
        bills = BillService(pool, vault)
        for p in people:
            bill = await bills.lookup(p["id_number"], 2025)
            assert bill.body["id_number_masked"] == p["id_number"][:6] + "*" * 11 + \
                p["id_number"][17]
        with pytest.raises(NotFound):
            await bills.lookup(new_id_number(999), 2025)
    finally:
        await pool.close()


async def seed(infra: TestInfra, url: str) -> list[dict[str, Any]]:
    """Seven people registered through the API under version 1 (one stored the way values were
    before keys had versions), their copies in payments and reporting written here in SQL
    in the shape the events give them (relay and consumers are off), and reference rows: one
    registered person, one unregistered with a ciphertext, one unregistered without (uploaded
    before ciphertexts were kept)."""
    people = []
    settings = settings_v1(infra, url)
    vault = vault_for(settings)
    async with running_app(create_app(settings)) as client:
        for n in range(7):
            number = new_id_number(n)
            r = await client.post("/v1/persons", json={
                "id_number": number, "name": f"孙测试{n}", "township_code": TOWNSHIP,
                "phone": f"1380000{n:04d}"})
            assert r.status_code == 201, r.text
            people.append({"person_id": r.json()["person_id"], "id_number": number,
                           "phone": f"1380000{n:04d}"})
    conn = await asyncpg.connect(dsn(url))
    try:
        legacy = people[0]
        await conn.execute(
            "UPDATE registration.persons SET id_number_hash = split_part(id_number_hash, ':', 2)"
            " WHERE id = $1", uuid.UUID(legacy["person_id"]))
        for p in people:
            row = await conn.fetchrow("SELECT id_number_hash, id_number_masked FROM "
                                      "registration.persons WHERE id = $1",
                                      uuid.UUID(p["person_id"]))
            await conn.execute(
                """INSERT INTO payments.persons (person_id, id_number_hash, id_number_masked,
                       name_masked, county_code, township_code, revision)
                   VALUES ($1, $2, $3, '孙*', '370481', $4, 1)""",
                uuid.UUID(p["person_id"]), row[0], row[1], TOWNSHIP)
            await conn.execute(
                """INSERT INTO reporting.persons (person_id, revision, name_masked,
                       id_number_masked, county_code, township_code, phone_enc, name_enc)
                   VALUES ($1, 1, '孙*', $2, '370481', $3, $4, $5)""",
                uuid.UUID(p["person_id"]), row[1], TOWNSHIP, vault.encrypt(p["phone"]),
                vault.encrypt("孙" + p["phone"][-2:]))
        hashed = await conn.fetchval("SELECT id_number_hash FROM registration.persons "
                                     "WHERE id = $1", uuid.UUID(people[1]["person_id"]))
        unregistered = new_id_number(500)
        for h, enc in ((hashed, None),
                       (vault.lookup_hash(unregistered), vault.encrypt(unregistered)),
                       (vault.lookup_hash(new_id_number(501)), None)):
            await conn.execute(
                """INSERT INTO registration.reference_persons (kind, region_code,
                       id_number_hash, id_number_masked, name, active, id_number_enc)
                   VALUES ('household_register', '370481', $1, '370481***********0', '周*',
                           true, $2)""", h, enc)
    finally:
        await conn.close()
    return people


async def test_rotation_across_suites_while_lookups_keep_working(infra: TestInfra,
                                                                 database: str) -> None:
    people = await seed(infra, database)
    conn = await asyncpg.connect(dsn(database))
    try:
        before = await labels(conn)
        assert before["persons.hash"].count("legacy") == 1
        assert set(before["persons.enc"]) == {"v1.aes"}
        # before: the services already run with version 2 current and version 1 readable
        new = settings_v2(infra, database)
        await everyone_is_found(new, people)
        vault = vault_for(new)

        # a run killed inside its second batch: that batch is rolled back whole
        class Killed(RuntimeError):
            pass

        class DyingVault(PiiVault):
            calls = 0

            def lookup_hash(self, id_number: str) -> str:
                DyingVault.calls += 1
                if DyingVault.calls == 5:
                    raise Killed()
                return super().lookup_hash(id_number)

        dying = DyingVault(vault_for(new).keys, current=2)
        with pytest.raises(Killed):
            await rotate(dsn(database), dying, batch_size=3)
        half = await labels(conn)
        assert half["persons.hash"].count("v2.sm4") == 3  # the first batch only
        assert half["persons.enc"].count("v2.sm4") == 3
        assert half["payments.hash"].count("v2.sm4") == 3  # moved with their persons
        await everyone_is_found(new, people)  # during: half rotated

        # the next run carries on (here: one batch more, then the rest)
        report = await rotate(dsn(database), vault, batch_size=3, max_batches=1)
        assert report.stopped and report.steps[0].rotated == 3
        assert (await labels(conn))["persons.hash"].count("v2.sm4") == 6
        await everyone_is_found(new, people)

        seen: list[tuple[str, int]] = []
        report = await rotate(dsn(database), vault, batch_size=3,
                              progress=lambda step, n: seen.append((step, n)))
        steps = {s.name: s for s in report.steps}
        persons = steps["registration.persons"]
        assert persons.rotated == 1 and persons.left == 0
        assert steps["payments.persons"].left == 0 and steps["reporting.persons"].left == 0
        assert steps["reporting.persons"].rotated == 7
        # the unregistered reference row with a ciphertext is rotated, the one without is told
        assert steps["registration.reference_persons"].rotated == 1
        assert steps["registration.reference_persons"].left == 1
        assert "重新上传" in steps["registration.reference_persons"].note
        assert sum(n for s, n in seen if s == "reporting.persons") == 7
        after = await labels(conn)
        for column in ("persons.enc", "persons.hash", "payments.hash", "reporting.phone",
                       "reporting.name"):
            assert set(after[column]) == {"v2.sm4"}, (column, after[column])
        assert sorted(after["reference.hash"]) == ["v1.aes", "v2.sm4", "v2.sm4"]
        # the registered person's reference row moved with them: the joins still match
        assert await conn.fetchval(
            """SELECT count(*) FROM registration.reference_persons r
               JOIN registration.persons p ON p.id_number_hash = r.id_number_hash""") == 1
        # reporting's phone numbers open under the new key alone
        only_new = vault_for(settings_v2(infra, database, previous=False))
        phones = {r[0]: (only_new.decrypt(r[1]), only_new.decrypt(r[2])) for r in await conn.fetch(
            "SELECT person_id::text, phone_enc, name_enc FROM reporting.persons")}
        assert phones == {p["person_id"]: (p["phone"], "孙" + p["phone"][-2:]) for p in people}
    finally:
        await conn.close()
    # after: everyone is found with the old key removed
    await everyone_is_found(settings_v2(infra, database, previous=False), people)


def test_the_command_shows_progress_and_is_a_no_op_when_done(infra: TestInfra,
                                                            database: str) -> None:
    """`canbao pii rotate` as an operator runs it (after the test above: nothing left but the
    reference row without a ciphertext)."""
    env = {**os.environ, **infra.env(), "CANBAO_DATABASE_URL": database,
           "CANBAO_PII_KEY": NEW_KEY, "CANBAO_PII_KEY_VERSION": "2", "CANBAO_PII_SUITE": "sm4",
           "CANBAO_PII_PREVIOUS_KEYS": json.dumps(PREVIOUS), "COLUMNS": "160"}
    done = subprocess.run([sys.executable, "-m", "services.cli", "pii", "rotate",
                           "--batch-size", "2"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert "current key v2 (SM4-GCM + HMAC-SM3)" in done.stderr, done.stderr
    assert "registration.persons" in done.stdout and "rotated         0" in done.stdout
    assert "1 reference rows hold no ciphertext" in done.stdout
    assert done.returncode == 3  # something is left: the operator is told


def test_a_value_under_a_key_that_is_not_configured_stops_the_command(infra: TestInfra,
                                                                     database: str) -> None:
    env = {**os.environ, **infra.env(), "CANBAO_DATABASE_URL": database,
           "CANBAO_PII_KEY": "Yt5-v3-" + "Pq8Lm2Xn7Vb4Kc1Hs6Wd9Gz3", "CANBAO_PII_KEY_VERSION": "3",
           "CANBAO_PII_SUITE": "aes", "COLUMNS": "160"}
    run = subprocess.run([sys.executable, "-m", "services.cli", "pii", "rotate"], env=env,
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "v2.sm4" in run.stderr and "not configured" in run.stderr

