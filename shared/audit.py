"""An append-only audit log per service schema: who did what to which resource, and how it went.

    audit_table_sql(schema, *, app_role=None) -> list[str]
        DDL for `<schema>.audit_log`, run one statement at a time (in an Alembic migration:
        `for statement in audit_table_sql("registration"): op.execute(statement)`). Triggers
        refuse UPDATE, DELETE and TRUNCATE for every role, the owner included; with `app_role`
        the application role also gets only SELECT and INSERT. (An owner can still drop the
        trigger: in production let the migration role own the table and the services connect
        as `app_role`.)
    await record(session_or_conn, schema, *, actor, action, resource, outcome="ok",
                 client_ip=None, details=None, role=None, region=None) -> int
        Appends one entry and returns its id. `actor` may be a `shared.auth.Principal` (then
        role and region come from it). The correlation id of the current request is added.
        Written in the caller's transaction: the entry commits or rolls back with the change it
        describes. To record a refusal, use a connection of its own.
    entry(*, actor, action, resource, ...) -> dict; await record_many(conn, schema, entries)
        The same entry made now (correlation id included) and appended later with others in
        one batch: the service middleware writes the calls it audits this way (group commit,
        one statement per batch over a plain asyncpg pool, shared/plain_pool.py).
    await query(conn, schema, *, actor=None, action=None, since=None, until=None, limit=100,
                cursor=None, region_prefix=None) -> AuditPage
        Newest first; `AuditPage.next_cursor` (opaque) fetches the following page. A cursor it
        did not hand out raises `InvalidCursor` (a ValueError). `region_prefix`
        (`Principal.region_filter`): only entries whose region lies inside it, in SQL before
        paging; None (nationwide callers, system callers without a region) reads them all.

An entry's `region` is where the action took place: the actor's region (every write and
audited read is confined to it) unless the recorder names a narrower one. The service
middleware names the one region a call gives in its region parameters (shared/auth.py
`authorize`; a handler may set `request.state.audit_region` to the region of what it changed),
so that a county's auditor also reads what a nationwide or provincial actor did there. Entries without a
region (anonymous callers, system callers without a region claim) are read only by callers who
see every region.

`session_or_conn` / `conn`: an SQLAlchemy AsyncSession or AsyncConnection, or an asyncpg
Connection.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text

from shared.observability import correlation_id

_IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}")
OUTCOMES = ("ok", "denied", "failed")
MAX_QUERY_LIMIT = 1000


def _schema(schema: str) -> str:
    if not _IDENT.fullmatch(schema):
        raise ValueError(f"not a schema name: {schema!r}")
    return schema


def audit_table_sql(schema: str, *, app_role: str | None = None) -> list[str]:
    s = _schema(schema)
    statements = [
        f"""CREATE TABLE IF NOT EXISTS {s}.audit_log (
            id bigserial PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            role text,
            region text,
            action text NOT NULL,
            resource text NOT NULL,
            outcome text NOT NULL DEFAULT 'ok',
            client_ip inet,
            correlation_id text,
            details jsonb NOT NULL DEFAULT '{{}}'::jsonb
        )""",
        f"CREATE INDEX IF NOT EXISTS audit_log_at ON {s}.audit_log (at)",
        f"CREATE INDEX IF NOT EXISTS audit_log_actor_id ON {s}.audit_log (actor, id)",
        f"CREATE INDEX IF NOT EXISTS audit_log_action_id ON {s}.audit_log (action, id)",
        f"""CREATE OR REPLACE FUNCTION {s}.audit_log_refuse_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$""",
        f"""CREATE OR REPLACE TRIGGER audit_log_append_only
            BEFORE UPDATE OR DELETE ON {s}.audit_log
            FOR EACH ROW EXECUTE FUNCTION {s}.audit_log_refuse_change()""",
        f"""CREATE OR REPLACE TRIGGER audit_log_no_truncate
            BEFORE TRUNCATE ON {s}.audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION {s}.audit_log_refuse_change()""",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {s}.audit_log FROM PUBLIC",
    ]
    if app_role is not None:
        role = _schema(app_role)
        statements += [
            f"REVOKE ALL ON {s}.audit_log FROM {role}",
            f"GRANT SELECT, INSERT ON {s}.audit_log TO {role}",
            f"GRANT USAGE ON SEQUENCE {s}.audit_log_id_seq TO {role}",
        ]
    return statements


class InvalidCursor(ValueError):
    """The `cursor` given to `query` is not one it handed out."""


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    role: str | None
    region: str | None
    action: str
    resource: str
    outcome: str
    client_ip: str | None
    correlation_id: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: str | None


def _is_asyncpg(conn: Any) -> bool:
    return type(conn).__module__.startswith("asyncpg")


def _to_asyncpg(sql: str, names: list[str]) -> str:
    for i, name in enumerate(names, 1):
        sql = sql.replace(f":{name}", f"${i}")
    return sql


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def entry(*, actor: Any, action: str, resource: str, outcome: str = "ok",
          client_ip: str | None = None, details: dict[str, Any] | None = None,
          role: str | None = None, region: str | None = None) -> dict[str, Any]:
    """One entry's columns, checked, with the current request's correlation id (so call it
    inside the request, even when the entry is written later with others)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    if client_ip is not None and not _is_ip(client_ip):
        # Not an address (a test client, a unix socket): kept as text, never lost with the entry.
        details = {**(details or {}), "client": client_ip[:200]}
        client_ip = None
    if not isinstance(actor, str):  # a Principal
        fields = actor.audit_fields()
        actor, role, region = fields["actor"], role or fields["role"], region or fields["region"]
    return {"actor": actor, "role": role, "region": region, "action": action,
            "resource": resource, "outcome": outcome, "client_ip": client_ip,
            "cid": correlation_id.get(), "details": orjson.dumps(details or {}).decode()}


def _insert_sql(schema: str) -> str:
    return (f"INSERT INTO {_schema(schema)}.audit_log (actor, role, region, action, resource, "
            "outcome, client_ip, correlation_id, details) VALUES (:actor, :role, :region, "
            ":action, :resource, :outcome, CAST(:client_ip AS inet), :cid, "
            "CAST(:details AS jsonb))")


async def record(session_or_conn: Any, schema: str, *, actor: Any, action: str, resource: str,
                 outcome: str = "ok", client_ip: str | None = None,
                 details: dict[str, Any] | None = None, role: str | None = None,
                 region: str | None = None) -> int:
    params = entry(actor=actor, action=action, resource=resource, outcome=outcome,
                   client_ip=client_ip, details=details, role=role, region=region)
    names = list(params)
    sql = _insert_sql(schema) + " RETURNING id"
    if _is_asyncpg(session_or_conn):
        return int(await session_or_conn.fetchval(_to_asyncpg(sql, names),
                                                  *(params[n] for n in names)))
    result = await session_or_conn.execute(text(sql), params)
    return int(result.scalar_one())


_COLUMNS = ("actor", "role", "region", "action", "resource", "outcome", "client_ip", "cid",
            "details")


def _insert_unnest_sql(schema: str) -> str:
    return (f"INSERT INTO {_schema(schema)}.audit_log (actor, role, region, action, resource, "
            "outcome, client_ip, correlation_id, details) "
            "SELECT a, r, g, c, s, o, CAST(i AS inet), k, CAST(d AS jsonb) FROM unnest("
            "$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
            "$7::text[], $8::text[], $9::text[]) AS e(a, r, g, c, s, o, i, k, d)")


async def record_many(conn: Any, schema: str, entries: Sequence[dict[str, Any]]) -> None:
    """Append entries made by `entry()`: with an SQLAlchemy connection or session, as one
    statement batch in the caller's transaction; with an asyncpg connection or pool, as one
    statement (its own transaction when the connection has none open: one round trip)."""
    if not entries:
        return
    if _is_asyncpg(conn):
        await conn.execute(_insert_unnest_sql(schema),
                           *([e[c] for e in entries] for c in _COLUMNS))
        return
    await conn.execute(text(_insert_sql(schema)), list(entries))


async def query(conn: Any, schema: str, *, actor: str | None = None, action: str | None = None,
                since: dt.datetime | None = None, until: dt.datetime | None = None,
                limit: int = 100, cursor: str | None = None,
                region_prefix: str | None = None) -> AuditPage:
    s = _schema(schema)
    limit = max(1, min(limit, MAX_QUERY_LIMIT))
    before: int | None = None
    if cursor:
        if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
            raise InvalidCursor("cursor is not valid")
        before = int(cursor)
    if region_prefix is not None and not (region_prefix.isascii() and region_prefix.isdigit()
                                          or region_prefix == ""):
        raise ValueError("region_prefix holds region code digits only")
    params = {"actor": actor, "action": action, "since": since, "until": until,
              "before": before, "rp": region_prefix, "limit": limit + 1}
    names = list(params)
    sql = (f"SELECT id, at, actor, role, region, action, resource, outcome, "
           f"host(client_ip) AS client_ip, correlation_id, details::text AS details "
           f"FROM {s}.audit_log WHERE "
           "(CAST(:actor AS text) IS NULL OR actor = :actor) "
           "AND (CAST(:action AS text) IS NULL OR action = :action) "
           "AND (CAST(:since AS timestamptz) IS NULL OR at >= :since) "
           "AND (CAST(:until AS timestamptz) IS NULL OR at < :until) "
           "AND (CAST(:before AS bigint) IS NULL OR id < :before) "
           "AND (CAST(:rp AS text) IS NULL OR region LIKE CAST(:rp AS text) || '%') "
           "ORDER BY id DESC LIMIT :limit")
    if _is_asyncpg(conn):
        rows = [dict(r) for r in await conn.fetch(_to_asyncpg(sql, names),
                                                  *(params[n] for n in names))]
    else:
        rows = [dict(r) for r in (await conn.execute(text(sql), params)).mappings().all()]
    more = len(rows) > limit
    rows = rows[:limit]
    entries = [AuditEntry(**{**r, "details": orjson.loads(r["details"])}) for r in rows]
    return AuditPage(entries, str(entries[-1].id) if more and entries else None)
