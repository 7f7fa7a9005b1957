"""Operational `canbao` commands run as an operator runs them (a subprocess, the settings from
the environment) against a database of their own and the test broker: the resident import
with its progress, run again after it finished (nothing doubled), the restore drill:
back up, change, restore, and find the data, the outbox and the consumer offsets of the backup
again, and the rebuild of reporting's projections from the topics."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from devtools.infra import TansuBroker, create_database, free_port
from devtools.testing.infra import TestInfra
from shared.idnumber import check_character
from shared.kafka import ensure_topics
from shared.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TOWNSHIP, VILLAGE = "370481001000", "370481001001"


def _ids(count: int, seed: int) -> list[str]:
    out = []
    for i in range(count):
        first17 = f"370481{1960 + seed % 40}0101{(seed * 100 + i) % 1000:03d}"
        out.append(first17 + check_character(first17))
    return out


def _resident_csv(path: Path, ids: list[str], prefix: str) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["姓名", "身份证号", "户号", "与户主关系", "乡镇代码", "村代码"])
    for i, id_number in enumerate(ids):
        writer.writerow([f"{prefix}{i}", id_number, f"{prefix}-{i}", "户主", TOWNSHIP, VILLAGE])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
async def ops_env(infra: TestInfra) -> AsyncIterator[dict[str, str]]:
    database = await create_database(infra.database_url, f"ops_{uuid.uuid4().hex[:8]}")
    env = {**os.environ, **infra.env(), "CANBAO_DATABASE_URL": database}
    env.pop("CANBAO_AUTH_ENABLED", None)
    result = canbao(env, "migrate")
    assert result.returncode == 0, result.stderr
    yield env


def canbao(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


async def _scalar(env: dict[str, str], sql: str) -> int:
    conn = await asyncpg.connect(env["CANBAO_DATABASE_URL"])
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def test_import_residents_shows_progress_and_runs_again_without_doubling(
        ops_env: dict[str, str], tmp_path: Path) -> None:
    before = await _scalar(ops_env, "SELECT count(*) FROM registration.persons")
    file = _resident_csv(tmp_path / "residents.csv", _ids(25, 1), "导入")
    first = canbao(ops_env, "import", "residents", str(file), "--county", "370481")
    assert first.returncode == 0, first.stderr
    assert "imported 25 of 25 rows" in first.stdout
    # not a terminal: one summary line with the last stage, the count and the rate
    assert "提交 committing residents.csv: 25 rows" in first.stderr
    assert first.stderr.count("residents.csv") == 1
    again = canbao(ops_env, "import", "residents", str(file), "--county", "370481")
    assert again.returncode == 0, again.stderr
    assert "imported 0 of 25 rows (25 already registered" in again.stdout
    assert await _scalar(ops_env, "SELECT count(*) FROM registration.persons") == before + 25


async def _commit(settings: Settings, group: str, topic: str, offset: int) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.commit({tp: OffsetAndMetadata(offset, "")})
    finally:
        await consumer.stop()


async def _committed(settings: Settings, group: str, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()


@pytest.fixture
async def drill_env(ops_env: dict[str, str]) -> AsyncIterator[dict[str, str]]:
    """The ops database with a broker of its own: the session's broker holds consumer groups
    of the services other tests ran (a restore rightly refuses while they have members)."""
    broker = TansuBroker(port=free_port())
    bootstrap = await asyncio.to_thread(broker.start)
    try:
        yield {**ops_env, "CANBAO_KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    finally:
        await asyncio.to_thread(broker.stop)


async def test_restore_drill(drill_env: dict[str, str], infra: TestInfra,
                             tmp_path: Path) -> None:
    """Backup -> more residents, outbox rows sent, the consumer group moves on -> restore:
    persons, outbox (with its sent marks) and the group's offset are the backup's again, the
    schema is at the current migration, and a second restore of the same backup gives the same
    state."""
    ops_env = drill_env
    settings = infra.settings(database_url=ops_env["CANBAO_DATABASE_URL"],
                              kafka_bootstrap_servers=ops_env["CANBAO_KAFKA_BOOTSTRAP_SERVERS"])
    assert canbao(ops_env, "import", "residents",
                  str(_resident_csv(tmp_path / "a.csv", _ids(12, 2), "备份前")),
                  "--county", "370481").returncode == 0
    # a consumer group of the service, as its replicas would leave it
    topic = f"drill.{uuid.uuid4().hex[:6]}"
    group = f"registration-drill-{uuid.uuid4().hex[:6]}"
    await ensure_topics(settings, (topic,))
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for i in range(6):
            await producer.send_and_wait(topic, f"event {i}".encode(), partition=0)
    finally:
        await producer.stop()
    await _commit(settings, group, topic, 3)

    state_sql = {
        "persons": "SELECT count(*) FROM registration.persons",
        "outbox": "SELECT count(*) FROM registration.outbox",
        "unsent": "SELECT count(*) FROM registration.outbox WHERE sent_at IS NULL",
    }
    at_backup = {k: await _scalar(ops_env, q) for k, q in state_sql.items()}
    assert at_backup["unsent"] > 0  # no relay runs here: the import's events wait
    backup = tmp_path / "backup"
    made = canbao(ops_env, "backup", "registration", "--to", str(backup))
    assert made.returncode == 0, made.stderr
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["services"]["registration"]["consumer_offsets"][group] == {topic: {"0": 3}}

    # life goes on after the backup
    assert canbao(ops_env, "import", "residents",
                  str(_resident_csv(tmp_path / "b.csv", _ids(7, 3), "备份后")),
                  "--county", "370481").returncode == 0
    conn = await asyncpg.connect(ops_env["CANBAO_DATABASE_URL"])
    try:
        await conn.execute("UPDATE registration.outbox SET sent_at = now() WHERE sent_at IS NULL")
    finally:
        await conn.close()
    await _commit(settings, group, topic, 6)
    after = {k: await _scalar(ops_env, q) for k, q in state_sql.items()}
    assert after["persons"] == at_backup["persons"] + 7 and after["unsent"] == 0

    refused = canbao(ops_env, "restore", "registration", "--from", str(backup))
    assert refused.returncode == 2 and "--yes" in refused.stderr
    for _ in range(2):
        restored = canbao(ops_env, "restore", "registration", "--from", str(backup), "--yes")
        assert restored.returncode == 0, restored.stderr
        assert {k: await _scalar(ops_env, q) for k, q in state_sql.items()} == at_backup
        assert await _committed(settings, group, topic) == 3
    assert await _scalar(ops_env, "SELECT count(*) FROM registration.persons "
                                  "WHERE name LIKE '备份后%'") == 0
    conn = await asyncpg.connect(ops_env["CANBAO_DATABASE_URL"])
    try:
        version = await conn.fetchval("SELECT version_num FROM registration.alembic_version")
    finally:
        await conn.close()
    from shared.migrations import head_revision

    assert version == head_revision("registration")
    # and the restored schema takes new writes (sequences and constraints are back)
    assert canbao(ops_env, "import", "residents",
                  str(_resident_csv(tmp_path / "c.csv", _ids(3, 4), "恢复后")),
                  "--county", "370481").returncode == 0
    assert await _scalar(ops_env, state_sql["persons"]) == at_backup["persons"] + 3
    await asyncio.sleep(0)


async def test_import_through_the_api_with_a_token(ops_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    """`canbao import villages` uploads through a running registration service: with an
    administrator's token the villages are added and the answer printed; without a token the
    command says what it needs; a township clerk of another county is refused (exit 1)."""
    import time

    import httpx

    from devtools.infra import free_port
    from shared.auth import ensure_dev_keypair, mint_token

    keys = tmp_path / "keys"
    private_path, _, kid = ensure_dev_keypair(keys)
    port = free_port()
    env = {**ops_env, "CANBAO_AUTH_ENABLED": "true", "CANBAO_JWT_PUBLIC_KEYS_DIR": str(keys),
           "CANBAO_RATE_LIMIT_ENABLED": "false"}
    server = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "registration",
                               "--port", str(port)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)

        def token(role: str, region: str) -> str:
            return mint_token(Path(private_path).read_bytes(), kid, sub=f"ops-{role}",
                              role=role, region=region, issuer="canbao", audience="canbao")

        villages = tmp_path / "villages.csv"
        villages.write_text("村代码,村名称,所属乡镇代码\n370481001201,运维村,370481001000\n",
                            encoding="utf-8")
        bare = canbao(env, "import", "villages", str(villages), "--url", url)
        assert bare.returncode == 2 and "CANBAO_TOKEN" in bare.stderr
        refused = canbao(env, "import", "villages", str(villages), "--url", url, "--county",
                         "370481", "--token", token("township_staff", "370827001000"))
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "forbidden" in refused.stdout
        before = await _scalar(ops_env, "SELECT count(*) FROM registration.villages")
        done = canbao(env, "import", "villages", str(villages), "--url", url, "--county",
                      "370481", "--token", token("administrator", "370481"))
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["added"] == 1
        assert "已上传 uploaded villages.csv" in done.stderr
        assert await _scalar(ops_env, "SELECT count(*) FROM registration.villages") == before + 1
    finally:
        server.terminate()
        server.wait(30)




async def _projections(database_url: str) -> dict[str, list[str]]:
    """Every row of every projection table reporting rebuilds, as JSON text, sorted. A counter
    row whose counts are all zero says nothing (events in another order leave one behind where
    a count went up and down again) and is left out."""
    from services.reporting.projections.repository import COUNTER_TABLES, PROJECTION_TABLES

    conn = await asyncpg.connect(database_url)
    try:
        out = {}
        for table in PROJECTION_TABLES:
            rows = await conn.fetchval(
                f"SELECT coalesce(array_agg(to_jsonb(t)::text), '{{}}') FROM reporting.{table} t")
            if table in COUNTER_TABLES:
                rows = [r for r in rows if any(
                    v for k, v in json.loads(r).items() if k != "plan_year"
                    and isinstance(v, int) and not isinstance(v, bool))]
            out[table] = sorted(rows)
        return out
    finally:
        await conn.close()


async def test_rebuild_projections_restores_what_the_service_projected(
        drill_env: dict[str, str], infra: TestInfra) -> None:
    """Events on the topics, projected by the running reporting service; then, the service
    stopped, one projected person deleted and one township's progress changed: `canbao
    rebuild-projections` (the installed console script) replays the topics and every projection
    table holds again exactly what the service had projected."""
    from devtools.testing.apps import running_app
    from services.reporting.app import create_app
    from services.reporting.tests import factories as f
    from services.reporting.tests.test_reporting_api_rebuild import TOPIC_OF, topic_of
    from services.reporting.tests.test_reporting_projections import scenario
    from shared.kafka import make_producer

    database = drill_env["CANBAO_DATABASE_URL"]
    settings = infra.settings(database_url=database,
                              kafka_bootstrap_servers=drill_env["CANBAO_KAFKA_BOOTSTRAP_SERVERS"])
    county = f.new_county()
    events, people = scenario(county)
    await ensure_topics(settings, set(TOPIC_OF.values()))
    producer = make_producer(settings)
    await producer.start()
    try:
        for ev in events:
            key, value, headers = ev.to_kafka()
            await producer.send_and_wait(topic_of(ev), value=value, key=key, headers=headers)
    finally:
        await producer.stop()

    async with running_app(create_app(settings)):
        for _ in range(300):
            if await _scalar(drill_env, "SELECT count(DISTINCT event_id) FROM reporting.inbox "
                                        "WHERE consumer = 'reporting'") >= len(events):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the reporting service did not project the events")
    projected = await _projections(database)
    assert any(people["adult"] in row for row in projected["persons"])
    assert any(county in row for row in projected["progress"]) and projected["payments"]

    conn = await asyncpg.connect(database)
    try:
        assert await conn.execute("DELETE FROM reporting.persons WHERE person_id::text = $1",
                                  people["adult"]) == "DELETE 1"
        changed = await conn.execute(
            "UPDATE reporting.progress SET registered = registered + 100 "
            "WHERE township_code = $1", f"{county}001000")
        assert changed != "UPDATE 0"
    finally:
        await conn.close()
    assert await _projections(database) != projected

    script = Path(sys.executable).parent / "canbao"  # what `pip install` made of [project.scripts]
    assert script.exists(), script
    rebuilt = subprocess.run([str(script), "rebuild-projections", "--timeout", "120"],
                             env=drill_env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert f"rebuilt reporting projections: {len(events)} events applied" in rebuilt.stdout
    after = await _projections(database)
    assert after == projected, {t: {"lost": sorted(set(projected[t]) - set(after[t])),
                                    "new": sorted(set(after[t]) - set(projected[t]))}
                                for t in projected if after[t] != projected[t]}
