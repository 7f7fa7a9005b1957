"""Alembic per service: each service's migrations live in services/<name>/migrations and
record their version in that service's own schema, so no service touches another's."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.settings import SERVICES, to_async_url

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
VERSION_TABLE = "alembic_version"


def alembic_config(service: str, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", to_async_url(database_url).replace("%", "%%"))
    cfg.attributes["schema"] = service
    return cfg


def head_revision(service: str) -> str | None:
    script = ScriptDirectory.from_config(alembic_config(service, "postgresql://x@y/z"))
    return script.get_current_head()


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, database_url), revision)


def upgrade_all(database_url: str, services: tuple[str, ...] = SERVICES) -> None:
    for service in services:
        upgrade(service, database_url)


async def current_revision(engine: AsyncEngine, schema: str) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(
                sync, opts={"version_table_schema": schema, "version_table": VERSION_TABLE}
            ).get_current_revision()
        )


def run_env() -> None:
    """Body of every service's migrations/env.py (online mode, asyncpg)."""
    cfg = context.config
    schema = cfg.attributes["schema"]
    url = cfg.get_main_option("sqlalchemy.url")
    assert url

    def do_run(conn: Connection) -> None:
        # One migrator per schema at a time, even with several replicas starting together.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": f"migrate:{schema}"})
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        context.configure(
            connection=conn,
            version_table_schema=schema,
            version_table=VERSION_TABLE,
            transaction_per_migration=False,
        )
        context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(do_run)
        finally:
            await engine.dispose()

    if context.is_offline_mode():
        raise SystemExit("offline migrations are not supported; use `canbao migrate`")
    asyncio.run(run())
