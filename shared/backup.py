"""Backup and restore of services' schemas, consistent with the outbox and the broker offsets
(`canbao backup`, `canbao restore`; docs/OPERATIONS.md, "Backup and restore").

A backup holds, per service: every table of its schema read in one REPEATABLE READ snapshot
(binary COPY: the outbox with its sent marks and the inbox with the event ids it applied
included), its sequences, its Alembic revision, and the committed offsets of its Kafka consumer
groups (`<service>` and `<service>-*`), read *before* the snapshot. The inbox commits its
database transaction before the offsets, so the recorded offsets never run ahead of the data:

- restore moves each group back to the recorded offsets (and a partition the group had not
  committed then to its beginning): the service consumes again what came after the backup, and
  its inbox skips what the snapshot had already applied;
- outbox rows unsent at the backup are sent when the service starts (consumers drop an event id
  they already have), rows sent before the backup are not sent again.

What a service published after the backup stays in the topics and in other services' data;
restoring all four services from one backup set gives the state of one moment everywhere but
the topics. Nothing in a backup is decrypted: personal data stays sealed under the PII keys,
which are not in the backup (keep the keys; a backup is unreadable without them).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import asyncpg

from shared.migrations import head_revision, upgrade
from shared.progress import task_progress
from shared.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"


class RestoreRefused(RuntimeError):
    pass


def _dsn(settings: Settings) -> str:
    return settings.async_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _groups_of(service: str, groups: list[str]) -> list[str]:
    return sorted(g for g in groups if g == service or g.startswith(service + "-"))


async def _list_groups(settings: Settings) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        return [g[0] if isinstance(g, tuple) else g for g in await admin.list_consumer_groups()]
    finally:
        await admin.close()


async def committed_offsets(settings: Settings, group: str) -> dict[str, dict[str, int]]:
    """{topic: {partition: offset}} the group has committed (asked partition by partition as
    the group's own consumer does, which every Kafka-protocol broker answers)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        out: dict[str, dict[str, int]] = {}
        for topic in sorted(await consumer.topics()):
            if topic.startswith("__"):
                continue
            for partition in sorted(consumer.partitions_for_topic(topic) or ()):
                offset = await consumer.committed(TopicPartition(topic, partition))
                if offset is not None and offset >= 0:
                    out.setdefault(topic, {})[str(partition)] = offset
        return out
    finally:
        await consumer.stop()


async def _tables(conn: asyncpg.Connection, schema: str) -> list[tuple[str, list[str]]]:
    rows = await conn.fetch(
        """SELECT c.relname, array_agg(a.attname ORDER BY a.attnum) AS columns
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                  AND NOT a.attisdropped AND a.attgenerated = ''
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
            GROUP BY c.relname ORDER BY c.relname""", schema)
    return [(r["relname"], list(r["columns"])) for r in rows]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def backup(settings: Settings, services: tuple[str, ...], target: Path) -> dict[str, Any]:
    target.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, before any I/O)
    if any(target.iterdir()):  # noqa: ASYNC240
        raise SystemExit(f"{target} is not empty; back up into a new folder")
    groups = await _list_groups(settings)
    manifest: dict[str, Any] = {"format": FORMAT, "created_at": dt.datetime.now(dt.UTC).isoformat(),
                                "services": {}}
    # the offsets first, then the snapshot: they can only be behind the data it holds
    offsets = {svc: {g: await committed_offsets(settings, g) for g in _groups_of(svc, groups)}
               for svc in services}
    conn = await asyncpg.connect(_dsn(settings), command_timeout=None)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            for svc in services:
                folder = target / svc
                folder.mkdir()
                revision = await conn.fetchval(
                    f"SELECT version_num FROM {_ident(svc)}.alembic_version")
                tables = [t for t in await _tables(conn, svc) if t[0] != "alembic_version"]
                sequences = {r["sequencename"]: [r["last_value"], r["last_value"] is not None]
                             for r in await conn.fetch(
                                 "SELECT sequencename, last_value FROM pg_sequences "
                                 "WHERE schemaname = $1", svc)}
                entries = []
                with task_progress(f"备份 backing up {svc}", total=len(tables),
                                   unit="tables") as progress:
                    for i, (name, columns) in enumerate(tables):
                        file = folder / f"{name}.copy"
                        cols = ", ".join(_ident(c) for c in columns)
                        status = await conn.copy_from_query(
                            f"SELECT {cols} FROM {_ident(svc)}.{_ident(name)}", output=file,
                            format="binary")
                        rows = int(status.split()[-1]) if status else 0
                        entries.append({"name": name, "columns": columns, "rows": rows,
                                        "file": f"{svc}/{file.name}"})
                        progress.update(i + 1, stage=f"备份 backing up {svc}.{name}")
                manifest["services"][svc] = {"revision": revision, "tables": entries,
                                             "sequences": sequences,
                                             "consumer_offsets": offsets[svc]}
    finally:
        await conn.close()
    (target / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return manifest


async def _groups_empty(settings: Settings, groups: list[str]) -> list[str]:
    """The groups that still have members (a running service)."""
    if not groups:
        return []
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_consumer_groups(groups)
    finally:
        await admin.close()
    busy = []
    for response in described:
        for group in getattr(response, "groups", []):
            # (error_code, group_id, state, protocol_type, protocol, members, ...)
            if len(group) > 5 and group[5]:
                busy.append(group[1])
    return busy


async def reset_offsets(settings: Settings, group: str,
                        offsets: dict[str, dict[str, int]]) -> None:
    """Commit `offsets` for the (empty) group; partitions of the group's topics that are not in
    `offsets` go back to their beginning."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.structs import OffsetAndMetadata

    current = await committed_offsets(settings, group)
    topics = set(offsets) | set(current)
    if not topics:
        return
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(t, p) for t in sorted(topics)
                      for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not partitions:
            return
        consumer.assign(partitions)
        beginning = await consumer.beginning_offsets(partitions)
        commit = {}
        for tp in partitions:
            offset = offsets.get(tp.topic, {}).get(str(tp.partition), beginning[tp])
            commit[tp] = OffsetAndMetadata(offset, "")
        await consumer.commit(commit)
    finally:
        await consumer.stop()


async def restore(settings: Settings, services: tuple[str, ...], source: Path, *,
                  check_stopped: bool = True) -> None:
    manifest = json.loads((source / MANIFEST).read_text())
    if manifest.get("format") != FORMAT:
        raise RestoreRefused(f"{source}: unknown backup format {manifest.get('format')}")
    missing = [s for s in services if s not in manifest["services"]]
    if missing:
        raise RestoreRefused(f"{source} holds no backup of {', '.join(missing)}")
    if check_stopped:
        groups = [g for svc in services for g in manifest["services"][svc]["consumer_offsets"]]
        busy = await _groups_empty(settings, groups)
        if busy:
            raise RestoreRefused(f"consumer group(s) {', '.join(busy)} still have members: "
                                 "stop the services first")
    for svc in services:
        part = manifest["services"][svc]
        if part["revision"] is None:
            raise RestoreRefused(f"{svc}: the backup has no migration revision")
        await _restore_schema(settings, svc, part, source)
        # a backup of an older version: bring its data up to the code's version
        if head_revision(svc) != part["revision"]:
            await asyncio.to_thread(upgrade, svc, settings.database_url)
        for group, offsets in part["consumer_offsets"].items():
            await reset_offsets(settings, group, offsets)


async def _restore_schema(settings: Settings, svc: str, part: dict[str, Any],
                          source: Path) -> None:
    conn = await asyncpg.connect(_dsn(settings), command_timeout=None)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {_ident(svc)} CASCADE")
    finally:
        await conn.close()
    # the schema exactly as the backup's revision built it
    await asyncio.to_thread(upgrade, svc, settings.database_url, part["revision"])
    conn = await asyncpg.connect(_dsn(settings), command_timeout=None)
    try:
        async with conn.transaction():
            # rows arrive table by table: foreign keys and triggers are checked by the backup's
            # own consistency, not row by row (needs the database owner to be a superuser,
            # which POSTGRES_USER is)
            await conn.execute("SET LOCAL session_replication_role = replica")
            tables = [t["name"] for t in part["tables"]]
            if tables:
                await conn.execute("TRUNCATE " + ", ".join(
                    f"{_ident(svc)}.{_ident(t)}" for t in tables))
            total = sum(t["rows"] for t in part["tables"])
            with task_progress(f"恢复 restoring {svc}", total=total) as progress:
                done = 0
                for table in part["tables"]:
                    await conn.copy_to_table(table["name"], schema_name=svc,
                                             source=source / table["file"],
                                             columns=table["columns"], format="binary")
                    done += table["rows"]
                    progress.update(done, stage=f"恢复 restoring {svc}.{table['name']}")
            for name, (value, called) in part["sequences"].items():
                if value is not None:
                    await conn.execute("SELECT setval($1, $2, $3)",
                                       f"{_ident(svc)}.{_ident(name)}", value, called)
    finally:
        await conn.close()
