"""Resident bulk import (居民参保登记批量导入) of a whole county's file.

Whole-file atomic: the file is streamed in batches (validated, ID numbers hashed and encrypted
in Python), each batch COPied into a temporary staging table and its person_registered events
COPied into the outbox, all in one transaction; at the end INSERT ... SELECT moves the staging
rows into households, persons and person_history. Any invalid row rolls everything back and
the row-level reasons are written to an error report; a crash leaves nothing behind, so the
import is simply run again. People already registered (same ID number) are left as they are
and counted."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.registration import events
from services.registration.persons.repository import PersonRow, household_id_of
from services.registration.regions import RegionTree
from services.registration.uploads import RowError, iter_resident_batches
from shared.bulk import copy_outbox_records, outbox_records
from shared.idnumber import mask_id_number
from shared.outbox import Outbox
from shared.pii import PiiVault

S = "registration"
STAGING_COLUMNS = ("id", "id_number_hash", "id_number_enc", "id_number_masked", "name",
                   "birth_date", "sex", "phone", "household_id", "household_no",
                   "relation_to_head", "county_code", "township_code", "village_code")


@dataclass(frozen=True, slots=True)
class _Ident:
    masked: str
    birth_date: dt.date
    sex: str


_BIRTHS: dict[str, dt.date] = {}


def _identity(id_number: str) -> _Ident:
    """Birth date, sex and masked form of an ID number the reader has already validated
    (parse_id_number again would cost a third of the preparation time)."""
    key = id_number[6:14]
    birth = _BIRTHS.get(key)
    if birth is None:
        birth = _BIRTHS[key] = dt.date(int(key[:4]), int(key[4:6]), int(key[6:]))
    sex = "male" if int(id_number[16]) % 2 else "female"
    return _Ident(mask_id_number(id_number), birth, sex)


@dataclass
class ImportResult:
    rows: int = 0
    imported: int = 0
    already_registered: int = 0
    households: int = 0
    events: int = 0
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


class Progress:
    """rows/s and percent of the file read, on one terminal line."""

    def __init__(self, total_bytes: int, out: Any = sys.stderr, every: float = 0.5) -> None:
        self.total = max(total_bytes, 1)
        self.out = out
        self.every = every
        self.started = time.perf_counter()
        self.last = 0.0

    def __call__(self, rows: int, position: int, stage: str = "reading", force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last < self.every:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        percent = min(100.0, 100.0 * position / self.total)
        self.out.write(f"\r{stage}: {rows:,} rows  {percent:5.1f}%  {rows / elapsed:,.0f} rows/s"
                       f"  {elapsed:,.0f}s   ")
        self.out.flush()

    def done(self) -> None:
        self.out.write("\n")
        self.out.flush()


async def import_residents(
    pg: Any, path: str | Path, *, vault: PiiVault, outbox: Outbox,
    regions: RegionTree | None = None, county_code: str | None = None,
    batch_size: int = 20_000, progress: Callable[..., None] | None = None,
) -> ImportResult:
    """Import one file on asyncpg connection `pg` (opens and commits its own transaction)."""
    path = Path(path)
    result = ImportResult()
    started = time.perf_counter()
    timings = result.timings
    tx = pg.transaction()
    await tx.start()
    try:
        await pg.execute("SELECT pg_advisory_xact_lock(hashtext('registration:resident-import'))")
        await pg.execute("""CREATE TEMP TABLE resident_staging (
            id uuid, id_number_hash text, id_number_enc text, id_number_masked text, name text,
            birth_date date, sex text, phone text, household_id uuid, household_no text,
            relation_to_head text, county_code text, township_code text, village_code text
            ) ON COMMIT DROP""")
        batches: queue.Queue[_Prepared | BaseException | None] = queue.Queue(maxsize=3)
        stop = threading.Event()
        worker = threading.Thread(target=_prepare_all, name="resident-import-reader", daemon=True,
                                  args=(path, batches, stop, vault, outbox, regions, county_code,
                                        batch_size))
        worker.start()
        try:
            while True:
                item = await asyncio.to_thread(batches.get)
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                result.rows += item.rows
                result.errors.extend(item.errors)
                if progress:
                    progress(result.rows, item.position)
                if result.errors or not item.records:
                    continue  # keep reading to report every error, but write nothing more
                await _apply_batch(pg, outbox, item, result, timings)
        finally:
            stop.set()
            while worker.is_alive():
                try:
                    batches.get_nowait()
                except queue.Empty:
                    await asyncio.sleep(0.01)
        if progress:
            progress(result.rows, os.path.getsize(path), force=True)
        if result.errors:
            await tx.rollback()
            result.imported = result.events = result.already_registered = 0
            result.seconds = time.perf_counter() - started
            return result
        t0 = time.perf_counter()
        await pg.execute(
            f"""INSERT INTO {S}.resident_imports (id, filename, content_rows, imported,
                already_registered) VALUES ($1, $2, $3, $4, $5)""",
            uuid.uuid4(), path.name, result.rows, result.imported, result.already_registered)
        await tx.commit()
        timings["commit"] = time.perf_counter() - t0
        timings["database"] = sum(v for k, v in timings.items() if k.startswith("db_"))
    except BaseException:
        await tx.rollback()
        raise
    result.seconds = time.perf_counter() - started
    return result


def time_ordered_uuid() -> uuid.UUID:
    """A version-7 UUID (millisecond time, then random): still opaque, but a bulk insert
    appends to the primary-key index instead of touching random pages."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return uuid.UUID(int=value)


@dataclass
class _Prepared:
    rows: int
    position: int
    errors: list[RowError]
    hashes: list[str]
    records: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]


def _prepare_all(path: Path, out: queue.Queue[Any], stop: threading.Event, vault: PiiVault,
                 outbox: Outbox, regions: RegionTree | None, county_code: str | None,
                 batch_size: int) -> None:
    """Reader thread: parse, validate, hash, encrypt and build the event rows of each batch
    while the database works on the previous one."""
    topic = events.TOPIC_OF[events.PERSON_REGISTERED]
    try:
        with path.open("rb") as stream:
            failed = False
            for batch in iter_resident_batches(stream, filename=path.name, batch_size=batch_size,
                                               regions=regions, county_code=county_code):
                if stop.is_set():
                    return
                rows = len(batch.rows) + len({e.row_number for e in batch.errors})
                failed = failed or bool(batch.errors)
                hashes: list[str] = []
                records: list[tuple[Any, ...]] = []
                payloads = []
                if not failed:
                    for r in batch.rows:
                        h = vault.lookup_hash(r.id_number)
                        ident = _identity(r.id_number)
                        household = household_id_of(r.household_number) if r.household_number else None
                        person = PersonRow(
                            id=time_ordered_uuid(), id_number_hash=h,
                            id_number_masked=ident.masked, name=r.name,
                            birth_date=ident.birth_date, sex=ident.sex, phone=r.phone,
                            household_id=household, county_code=r.township_code[:6],
                            township_code=r.township_code, village_code=r.village_code,
                            revision=1)
                        hashes.append(h)
                        records.append((person.id, h, vault.encrypt(r.id_number), ident.masked,
                                        r.name, ident.birth_date, ident.sex, r.phone, household,
                                        r.household_number, r.relation_to_head,
                                        person.county_code, r.township_code, r.village_code))
                        payloads.append((topic, events.PERSON_REGISTERED,
                                         events.person_payload(person, vault), str(person.id)))
                out.put(_Prepared(rows, stream.tell(), batch.errors, hashes, records,
                                  outbox_records(outbox, payloads)))
        out.put(None)
    except BaseException as exc:  # handed to the importing coroutine
        out.put(exc)


async def _apply_batch(pg: Any, outbox: Outbox, item: _Prepared, result: ImportResult,
                     timings: dict[str, float]) -> None:
    """One batch: COPY into staging, INSERT ... SELECT into households, persons, history."""
    t0 = time.perf_counter()
    known = {h for (h,) in await pg.fetch(
        f"SELECT id_number_hash FROM {S}.persons WHERE id_number_hash = ANY($1)", item.hashes)}
    records, event_rows = item.records, item.events
    if known:
        keep = [i for i, h in enumerate(item.hashes) if h not in known]
        result.already_registered += len(records) - len(keep)
        records = [records[i] for i in keep]
        event_rows = [event_rows[i] for i in keep]
    await pg.execute("TRUNCATE resident_staging")
    await pg.copy_records_to_table("resident_staging", records=records,
                                   columns=list(STAGING_COLUMNS))
    # households with their head (户主) in one statement: no join against the whole table
    status = await pg.execute(f"""
        INSERT INTO {S}.households AS h (id, household_no, village_code, head_person_id)
        SELECT household_id, household_no, min(village_code),
               (array_agg(id) FILTER (WHERE relation_to_head = '户主'))[1]
        FROM resident_staging WHERE household_no IS NOT NULL
        GROUP BY household_id, household_no
        ON CONFLICT (household_no) DO UPDATE SET head_person_id = EXCLUDED.head_person_id
        WHERE h.head_person_id IS NULL AND EXCLUDED.head_person_id IS NOT NULL""")
    result.households += int(status.split()[-1])
    await pg.execute(f"""
        INSERT INTO {S}.persons (id, id_number_hash, id_number_enc, id_number_masked, name,
            birth_date, sex, phone, household_id, relation_to_head, county_code,
            township_code, village_code)
        SELECT id, id_number_hash, id_number_enc, id_number_masked, name, birth_date, sex,
            phone, household_id, relation_to_head, county_code, township_code, village_code
        FROM resident_staging ORDER BY id""")
    await pg.execute(f"""
        INSERT INTO {S}.person_history (person_id, revision, snapshot)
        SELECT id, 1, jsonb_build_object('name', name, 'phone', phone,
            'household_id', household_id, 'relation_to_head', relation_to_head,
            'hukou_region_code', NULL, 'county_code', county_code,
            'township_code', township_code, 'village_code', village_code,
            'residence_permit', false, 'school', NULL, 'imported', true)
        FROM resident_staging ORDER BY id""")
    result.events += await copy_outbox_records(pg, outbox, event_rows)
    result.imported += len(records)
    timings["db_batches"] = timings.get("db_batches", 0.0) + time.perf_counter() - t0


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


__all__ = ["ImportResult", "Progress", "import_residents", "dt"]
