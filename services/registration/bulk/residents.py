"""Resident bulk import (居民参保登记批量导入) of a whole county's file.

Whole-file atomic: the file is streamed in batches, all in one transaction. A reader thread
validates each batch, hashes and encrypts the ID numbers and seals the phones (Python), and
writes the batch as COPY text while the database works on the previous one; the batch is
COPied into a temporary staging table, the people already registered are dropped from it, and
INSERT ... SELECT moves the rest into households, persons, person_history and the outbox (the
person_registered events are built from the staging rows by jsonb_build_object, the payload
of events.person_payload, in the outbox's INSERT ... SELECT form). Any invalid row rolls
everything back and the row-level reasons are written to an error report; a crash leaves nothing
behind, so the import is simply run again. People already registered (same ID number) are left
as they are and counted."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernels.regions import RegionTree
from services.registration.bulk import repository as repo
from services.registration.persons.repository import household_id_of
from services.registration.uploads import RowError, iter_resident_batches
from shared.idnumber import mask_id_number, mask_name
from shared.observability import correlation_id
from shared.outbox import Outbox, shard_of
from shared.pii import PiiVault


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
        await repo.begin_import(pg)
        event = (correlation_id.get(),)  # $1 of the events' INSERT ... SELECT
        batches: queue.Queue[_Prepared | BaseException | None] = queue.Queue(maxsize=3)
        stop = threading.Event()
        worker = threading.Thread(target=_prepare_all, name="resident-import-reader", daemon=True,
                                  args=(path, batches, stop, vault, regions, county_code,
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
                    progress(result.rows, item.position, stage="读取 reading")
                if result.errors or not item.count:
                    continue  # keep reading to report every error, but write nothing more
                if progress:
                    progress(result.rows, item.position, stage="写入 writing", force=True)
                await _apply_batch(pg, outbox, item, result, timings, event)
        finally:
            stop.set()
            while worker.is_alive():
                try:
                    batches.get_nowait()
                except queue.Empty:
                    await asyncio.sleep(0.01)
        if progress:
            progress(result.rows, os.path.getsize(path), stage="提交 committing", force=True)
        if result.errors:
            await tx.rollback()
            result.imported = result.events = result.already_registered = 0
            result.seconds = time.perf_counter() - started
            return result
        t0 = time.perf_counter()
        await repo.record_import(pg, path.name, result.rows, result.imported,
                                 result.already_registered)
        await tx.commit()
        timings["commit"] = time.perf_counter() - t0
        timings["database"] = sum(v for k, v in timings.items() if k.startswith("db_"))
    except BaseException:
        await tx.rollback()
        raise
    result.seconds = time.perf_counter() - started
    return result


_COUNTER_BITS = 22  # up to 4 M rows a batch


def _uuid7_base() -> int:
    """A version-7 UUID (RFC 9562: millisecond time, then random) as an int whose low
    _COUNTER_BITS are zero: `_uuid7_text(base, n)` for n = 0, 1, ... are then unique, opaque
    and increasing, so a batch appends to the primary-key index instead of touching random
    pages (RFC 9562 section 6.2, methods 1 and 3)."""
    rand = int.from_bytes(os.urandom(10), "big")
    return ((time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | (rand & 0xFFF) << 64 | 0x2 << 62
            | (rand >> 12) % (1 << 62) >> _COUNTER_BITS << _COUNTER_BITS)


def _uuid7_text(base: int, counter: int) -> str:
    h = "%032x" % (base + counter)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# COPY text format: these four characters are escaped in free text (names, household numbers)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def _copy_text(value: str | None) -> str:
    if value is None:
        return "\\N"
    return value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value


@dataclass
class _Prepared:
    rows: int
    position: int
    errors: list[RowError]
    count: int  # rows in `staging`
    staging: bytes  # the batch as COPY text, repository.STAGING_COLUMNS in order


def _prepare_all(path: Path, out: queue.Queue[Any], stop: threading.Event, vault: PiiVault,
                 regions: RegionTree | None, county_code: str | None,
                 batch_size: int) -> None:
    """Reader thread: parse, validate, hash and encrypt each batch, and write it out as COPY
    text, while the database works on the previous one. The event loop only sends bytes."""
    seal = vault.encrypt
    # the hash under the current key first, then those of earlier PII key versions (and of
    # values written before versions): people stored under them are already registered,
    # whether or not `canbao pii rotate` got to them
    lookup_hashes = vault.lookup_hashes
    births: dict[str, str] = {}
    households: dict[str, str] = {}
    try:
        with path.open("rb") as stream:
            failed = False
            for batch in iter_resident_batches(stream, filename=path.name, batch_size=batch_size,
                                               regions=regions, county_code=county_code):
                if stop.is_set():
                    return
                rows = len(batch.rows) + len({e.row_number for e in batch.errors})
                failed = failed or bool(batch.errors)
                lines: list[str] = []
                if not failed:
                    assert len(batch.rows) < 1 << _COUNTER_BITS
                    base = _uuid7_base()  # person ids: base + row in the batch
                    event_base = _uuid7_base()  # event ids too: append to outbox's index
                    for n, r in enumerate(batch.rows):
                        id_number = r.id_number
                        key = id_number[6:14]
                        birth = births.get(key)
                        if birth is None:
                            birth = births[key] = dt.date(
                                int(key[:4]), int(key[4:6]), int(key[6:])).isoformat()
                        household_no = r.household_number
                        if household_no is None:
                            household = None
                        else:
                            household = households.get(household_no)
                            if household is None:
                                if len(households) > 4096:
                                    households.clear()
                                household = households[household_no] = str(
                                    household_id_of(household_no))
                        person_id = _uuid7_text(base, n)
                        name = r.name
                        phone = r.phone
                        township = r.township_code
                        current_hash, *earlier_hashes = lookup_hashes(id_number)
                        lines.append("\t".join((
                            person_id, current_hash, seal(id_number),
                            mask_id_number(id_number), _copy_text(name),
                            _copy_text(mask_name(name)), seal(name), birth,
                            "male" if int(id_number[16]) % 2 else "female",
                            phone or "\\N", seal(phone) if phone else "\\N",
                            household or "\\N", _copy_text(household_no),
                            _copy_text(r.relation_to_head), township[:6], township,
                            r.village_code or "\\N", str(shard_of(person_id)),
                            _uuid7_text(event_base, n), "{" + ",".join(earlier_hashes) + "}",
                            _copy_text(r.address), seal(r.address) if r.address else "\\N")))
                    lines.append("")
                out.put(_Prepared(rows, stream.tell(), batch.errors, len(batch.rows),
                                  "\n".join(lines).encode()))
        out.put(None)
    except BaseException as exc:  # handed to the importing coroutine
        out.put(exc)


async def _apply_batch(pg: Any, outbox: Outbox, item: _Prepared, result: ImportResult,
                       timings: dict[str, float], event: tuple[str | None, ...]) -> None:
    """One batch: COPY into staging, drop the people already registered, then INSERT ...
    SELECT into households, persons, history and the outbox (events built from staging)."""
    t0 = time.perf_counter()
    try:
        written = await repo.write_batch(pg, outbox, item.staging, item.count, event)
        result.already_registered += written.already_registered
        result.households += written.households
        result.events += written.imported
        result.imported += written.imported
    finally:
        timings["db_batches"] = timings.get("db_batches", 0.0) + time.perf_counter() - t0


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


__all__ = ["ImportResult", "Progress", "import_residents", "dt"]
