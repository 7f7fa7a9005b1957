"""The audit log keeps what was written: entries can be added and read, never changed."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.audit import InvalidCursor, audit_table_sql, query, record
from shared.auth import Principal
from shared.observability import correlation_id


@pytest.fixture
async def audit_db(infra):
    schema = f"audit_test_{uuid.uuid4().hex[:8]}"
    engine = create_async_engine(infra.settings().async_database_url)
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
        for statement in audit_table_sql(schema):
            await conn.execute(text(statement))
        for statement in audit_table_sql(schema):  # idempotent: migrations may run it again
            await conn.execute(text(statement))
    yield engine, schema
    async with engine.begin() as conn:
        # DROP is the owner's way out for a throwaway schema; the rows themselves stay immutable.
        await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    await engine.dispose()


async def test_record_query_and_refuse_changes(audit_db) -> None:
    engine, schema = audit_db
    officer = Principal(subject="u-42", kind="staff", role="medical_insurance_officer",
                        region="370481")
    token = correlation_id.set("cid-123")
    try:
        async with engine.begin() as conn:
            first = await record(conn, schema, actor=officer, action="person.read_full_id",
                                 resource="person/8f1c", client_ip="10.1.2.3",
                                 details={"reason": "家庭成员核对"})
            for i in range(4):
                await record(conn, schema, actor="wechatpay", role="system",
                             action="bill.read", resource=f"bill/{i}")
            await record(conn, schema, actor="u-9", action="list.upload",
                         resource="lists/civil_affairs/2025", outcome="denied")
    finally:
        correlation_id.reset(token)

    async with engine.connect() as conn:
        page = await query(conn, schema, actor="u-42")
        assert [e.id for e in page.entries] == [first]
        entry = page.entries[0]
        assert (entry.actor, entry.role, entry.region, entry.action, entry.resource) == (
            "u-42", "medical_insurance_officer", "370481", "person.read_full_id", "person/8f1c")
        assert entry.outcome == "ok" and entry.client_ip == "10.1.2.3"
        assert entry.correlation_id == "cid-123"
        assert entry.details == {"reason": "家庭成员核对"}
        assert entry.at.tzinfo is not None

        # Newest first, in pages, until the cursor runs out.
        seen: list[str] = []
        cursor = None
        while True:
            page = await query(conn, schema, action="bill.read", limit=3, cursor=cursor)
            seen += [e.resource for e in page.entries]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == ["bill/3", "bill/2", "bill/1", "bill/0"]

        denied = await query(conn, schema, since=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        assert [e.outcome for e in denied.entries][0] == "denied"
        assert len(denied.entries) == 6
        future = await query(conn, schema, since=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
        assert future.entries == []

    for statement in (f"UPDATE {schema}.audit_log SET outcome = 'ok'",
                      f"DELETE FROM {schema}.audit_log WHERE id = {first}",
                      f"TRUNCATE {schema}.audit_log"):
        with pytest.raises(Exception, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(statement))
    async with engine.connect() as conn:
        assert len((await query(conn, schema, limit=1000)).entries) == 6


async def test_asyncpg_connection_works_too(audit_db, infra) -> None:
    _, schema = audit_db
    url = infra.settings().async_database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(url)
    try:
        new_id = await record(conn, schema, actor="batch", role="system", action="export",
                              resource="publicity/370481001001")
        page = await query(conn, schema, actor="batch")
        assert [e.id for e in page.entries] == [new_id]
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute(f"DELETE FROM {schema}.audit_log")
    finally:
        await conn.close()


def test_schema_names_are_checked() -> None:
    with pytest.raises(ValueError):
        audit_table_sql("registration; DROP TABLE x")


async def test_a_client_that_is_not_an_ip_address_does_not_lose_the_entry(audit_db) -> None:
    engine, schema = audit_db
    async with engine.begin() as conn:
        entry_id = await record(conn, schema, actor="u-7", action="POST /v1/persons",
                                resource="/v1/persons", client_ip="testclient",
                                details={"status": 201})
    async with engine.connect() as conn:
        page = await query(conn, schema, actor="u-7")
    assert [e.id for e in page.entries] == [entry_id]
    assert page.entries[0].client_ip is None
    assert page.entries[0].details == {"status": 201, "client": "testclient"}


async def test_a_cursor_that_was_not_handed_out_is_refused(audit_db) -> None:
    engine, schema = audit_db
    async with engine.connect() as conn:
        for cursor in ("x", "１２", "²", "9" * 40):
            with pytest.raises(InvalidCursor):
                await query(conn, schema, cursor=cursor)
