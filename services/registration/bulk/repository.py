"""The county bulk import's statements, on one asyncpg connection in the import's transaction:
the lock and the staging table, each batch's COPY into staging and its INSERT ... SELECT into
households, persons, history and the outbox, and the import's own row."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from services.registration import events
from shared.outbox import Outbox

log = logging.getLogger(__name__)
S = "registration"
STAGING_COLUMNS = ("id", "id_number_hash", "id_number_enc", "id_number_masked", "name",
                   "name_masked", "name_enc", "birth_date", "sex", "phone", "phone_enc",
                   "household_id",
                   "household_no", "relation_to_head", "county_code", "township_code",
                   "village_code", "shard", "event_id", "other_hashes", "address",
                   "address_enc")


async def begin_import(pg: Any) -> None:
    """One import at a time (a lock to the end of the transaction), and the staging table."""
    await pg.execute("SELECT pg_advisory_xact_lock(hashtext('registration:resident-import'))")
    # sorts of a batch in memory (the default 4 MB spills them to disk); until commit
    await pg.execute("SET LOCAL work_mem = '64MB'")
    await pg.execute("""CREATE TEMP TABLE resident_staging (
        id uuid, id_number_hash text, id_number_enc text, id_number_masked text, name text,
        name_masked text, name_enc text, birth_date date, sex text, phone text,
        phone_enc text,
        household_id uuid, household_no text, relation_to_head text, county_code text,
        township_code text, village_code text, shard smallint, event_id uuid,
        other_hashes text[], address text, address_enc text) ON COMMIT DROP""")


async def record_import(pg: Any, filename: str, rows: int, imported: int,
                        already_registered: int) -> None:
    await pg.execute(
        f"""INSERT INTO {S}.resident_imports (id, filename, content_rows, imported,
            already_registered) VALUES ($1, $2, $3, $4, $5)""",
        uuid.uuid4(), filename, rows, imported, already_registered)


@dataclass
class BatchWritten:
    already_registered: int = 0
    households: int = 0
    imported: int = 0  # people inserted, one event each


async def _chunks(data: bytes, size: int = 1 << 20) -> AsyncIterator[memoryview]:
    """COPY data from memory (a file-like source would be read through the executor)."""
    view = memoryview(data)
    for start in range(0, len(view), size):
        yield view[start:start + size]


async def write_batch(pg: Any, outbox: Outbox, staging: bytes, count: int,
                      event: tuple[str | None, ...]) -> BatchWritten:
    """One batch of `count` people (`staging`: COPY text of STAGING_COLUMNS): COPY into
    staging, drop the people already registered, then INSERT ... SELECT into households,
    persons, history and the outbox (events built from staging; `event`: $1, the correlation
    id)."""
    written = BatchWritten()
    steps = [time.perf_counter()]
    await pg.execute("TRUNCATE resident_staging")
    await pg.copy_to_table("resident_staging", source=_chunks(staging),
                           columns=list(STAGING_COLUMNS), format="text")
    steps.append(time.perf_counter())
    # the batch's hashes as one array: index probes, never a scan of persons (a join with the
    # staging table is planned as a hash join over all of persons)
    status = await pg.execute(f"""
        DELETE FROM resident_staging WHERE id_number_hash IN (
            SELECT p.id_number_hash FROM {S}.persons p
            WHERE p.id_number_hash = ANY (ARRAY(SELECT id_number_hash FROM resident_staging)))""")
    known = int(status.split()[-1])
    status = await pg.execute(f"""
        DELETE FROM resident_staging s WHERE cardinality(s.other_hashes) > 0 AND EXISTS (
            SELECT 1 FROM {S}.persons p WHERE p.id_number_hash = ANY (s.other_hashes))""")
    known += int(status.split()[-1])
    steps.append(time.perf_counter())
    written.already_registered = known
    if known == count:
        return written
    # households with their head (户主) in one statement: no join against the whole table
    status = await pg.execute(f"""
        INSERT INTO {S}.households AS h (id, household_no, village_code, head_person_id)
        SELECT household_id, household_no, min(village_code),
               (array_agg(id) FILTER (WHERE relation_to_head = '户主'))[1]
        FROM resident_staging WHERE household_no IS NOT NULL
        GROUP BY household_id, household_no
        ON CONFLICT (household_no) DO UPDATE SET head_person_id = EXCLUDED.head_person_id
        WHERE h.head_person_id IS NULL AND EXCLUDED.head_person_id IS NOT NULL""")
    written.households = int(status.split()[-1])
    steps.append(time.perf_counter())
    await pg.execute(f"""
        INSERT INTO {S}.persons (id, id_number_hash, id_number_enc, id_number_masked, name,
            birth_date, sex, phone, household_id, relation_to_head, county_code,
            township_code, village_code, address)
        SELECT id, id_number_hash, id_number_enc, id_number_masked, name, birth_date, sex,
            phone, household_id, relation_to_head, county_code, township_code, village_code,
            address
        FROM resident_staging ORDER BY id""")
    steps.append(time.perf_counter())
    await pg.execute(f"""
        INSERT INTO {S}.person_history (person_id, revision, snapshot)
        SELECT id, 1, jsonb_build_object('name', name, 'phone', phone,
            'household_id', household_id, 'relation_to_head', relation_to_head,
            'hukou_region_code', NULL, 'county_code', county_code,
            'township_code', township_code, 'village_code', village_code,
            'residence_permit', false, 'school', NULL, 'address', address,
            'imported', true)
        FROM resident_staging ORDER BY id""")
    steps.append(time.perf_counter())
    status = await pg.execute(person_events_sql(outbox), *event)
    steps.append(time.perf_counter())
    written.imported = int(status.split()[-1])
    log.debug("import batch of %d: %s", count, ", ".join(
        f"{name} {b - a:.2f}s" for name, a, b in zip(
            ("staging COPY", "already registered", "households", "persons", "history",
             "events"), steps, steps[1:], strict=False)))
    return written


def person_events_sql(outbox: Outbox) -> str:
    """registration.person_registered.v1 for every staged person, built by the database from
    the staging rows: the payload of events.person_payload (tests validate it against
    contracts.registration.PersonRegistered). $1: the correlation id."""
    return outbox.insert_select(
        events.PersonRegistered, event_id="event_id", key="id::text", shard="shard",
        correlation="$1", source_rows="resident_staging", data="""jsonb_build_object(
            'person_id', id, 'revision', 1, 'birth_date', birth_date,
            'sex', sex, 'id_number_hash', id_number_hash,
            'id_number_masked', id_number_masked, 'name_masked', name_masked,
            'county_code', county_code, 'township_code', township_code,
            'village_code', village_code, 'household_id', household_id,
            'phone_enc', phone_enc, 'name_enc', name_enc, 'household_no', household_no,
            'address_enc', address_enc)""")


