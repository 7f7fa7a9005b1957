"""`canbao pii rotate`: move every stored ciphertext and keyed hash of personal data to the
current PII key (and suite), in batches, while the services run.

What it rotates, in the one database the services share (schemas that are absent are skipped):

    registration.persons           id_number_enc, id_number_hash; in the same transaction as
                                   each person, the hash of their reference rows and of
                                   payments' copy (payments.persons), so that the joins on the
                                   hash and the bill lookup never see two versions of one person
    registration.reference_persons rows left over (people not registered): re-hashed from their
                                   own ciphertext; rows uploaded before ciphertexts were kept
                                   cannot be re-hashed and are counted (upload them again)
    payments.persons               hashes left over (a stale event arrived after its person was
                                   rotated): taken from registration's row
    reporting.persons              phone_enc, name_enc, address_enc

A batch is one short transaction; each step takes the rows not yet under the current key, in
primary-key order, so killing the command loses at most the batch in flight, and running it
again carries on where it stopped. Reads accept every configured key and lookups try the hash
of every configured version (shared/pii.py), so the services keep finding people before, during
and after. What joins two tables on the hash (reference data against persons: missing and
duplicate people) sees a person and their reference rows under one version, except a reference
row uploaded during the run for a person not yet rotated, until the run reaches that person.
Remove a key from CANBAO_PII_PREVIOUS_KEYS only after a run that reports nothing
left, and after the retention of the Kafka topics has passed (events carry hashes and sealed
phone numbers of their time).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from shared.pii import PiiKeyError, PiiVault

Progress = Callable[[str, int], None]  # (step, rows done in this batch)


class RotationError(RuntimeError):
    """Rotation cannot go on (a value under a key that is not configured); the message says
    which table and key."""


@dataclass
class StepReport:
    name: str
    description: str
    remaining: int = 0  # rows not under the current key when the run started
    rotated: int = 0
    left: int = 0  # rows still not under the current key when the step ended
    note: str = ""


@dataclass
class RotationReport:
    target: str
    steps: list[StepReport] = field(default_factory=list)
    seconds: float = 0.0
    stopped: bool = False  # stopped early (max_batches)

    @property
    def complete(self) -> bool:
        return not self.stopped and all(s.left == 0 for s in self.steps)


# reporting.persons' values sealed with the PII key (the reminder lists' contact details)
_REPORTING_SEALED = ("phone_enc", "name_enc", "address_enc")


def _not_current(*columns: str) -> str:
    """SQL: one of the columns is set and does not start with the current prefix ($1)."""
    return "(" + " OR ".join(f"({c} IS NOT NULL AND left({c}, length($1)) <> $1)"
                             for c in columns) + ")"


async def _table_exists(conn: asyncpg.Connection, qualified: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", qualified))


async def _column_exists(conn: asyncpg.Connection, schema: str, table: str, column: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 "
        "AND column_name = $3", schema, table, column))


class Rotator:
    def __init__(self, conn: asyncpg.Connection, vault: PiiVault, *, batch_size: int = 500,
                 max_batches: int | None = None, progress: Progress | None = None) -> None:
        self.conn = conn
        self.vault = vault
        self.prefix = vault.prefix
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.batches = 0
        self.progress = progress or (lambda step, n: None)

    def _budget_left(self) -> bool:
        return self.max_batches is None or self.batches < self.max_batches

    def _decrypt(self, table: str, token: str) -> str:
        try:
            return self.vault.decrypt(token)
        except PiiKeyError as exc:
            raise RotationError(f"{table}: {exc}") from None

    def _seal(self, table: str, token: str | None) -> str | None:
        """The value sealed under the current key (unchanged when it already is)."""
        if token is None or self.vault.is_current(token):
            return token
        return self.vault.encrypt(self._decrypt(table, token))

    # --- the steps ----------------------------------------------------------------------------

    async def plan(self) -> list[tuple[StepReport, Callable[[StepReport], Awaitable[None]]]]:
        c = self.conn
        steps: list[tuple[StepReport, Callable[[StepReport], Awaitable[None]]]] = []
        self.has_reference = await _table_exists(c, "registration.reference_persons")
        self.reference_enc = self.has_reference and await _column_exists(
            c, "registration", "reference_persons", "id_number_enc")
        self.has_payments = await _table_exists(c, "payments.persons")
        has_persons = await _table_exists(c, "registration.persons")
        if has_persons:
            steps.append((StepReport("registration.persons", "登记人员身份证号（密文、检索哈希）"),
                          self._persons))
        if self.has_reference:
            steps.append((StepReport("registration.reference_persons",
                                     "参考数据身份证号（未登记人员）"), self._reference))
        if self.has_payments:
            steps.append((StepReport("payments.persons", "缴费服务的身份证号检索哈希"),
                          self._payments if has_persons else self._payments_alone))
        if await _table_exists(c, "reporting.persons"):
            steps.append((StepReport("reporting.persons", "统计服务的手机号、姓名和地址密文"),
                          self._reporting))
        for report, _ in steps:
            report.remaining = await self._count(report.name)
        return steps

    async def _count(self, name: str) -> int:
        where = {
            "registration.persons": _not_current("id_number_enc", "id_number_hash"),
            "registration.reference_persons": _not_current(
                "id_number_hash", *(["id_number_enc"] if self.reference_enc else [])),
            "payments.persons": _not_current("id_number_hash"),
            "reporting.persons": _not_current(*_REPORTING_SEALED),
        }[name]
        return int(await self.conn.fetchval(f"SELECT count(*) FROM {name} WHERE {where}",
                                            self.prefix))

    async def _persons(self, report: StepReport) -> None:
        """Each batch: the persons' ciphertext and hash, and (same transaction) their old
        hashes wherever they are joined on or looked up by."""
        table = "registration.persons"
        last = None
        while self._budget_left():
            async with self.conn.transaction():
                rows = await self.conn.fetch(
                    f"""SELECT id, id_number_enc, id_number_hash FROM {table}
                        WHERE {_not_current("id_number_enc", "id_number_hash")}
                          AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3
                        FOR UPDATE""", self.prefix, last, self.batch_size)
                if not rows:
                    return
                ids, encs, olds, news = [], [], [], []
                for r in rows:
                    value = self._decrypt(table, r["id_number_enc"])
                    ids.append(r["id"])
                    encs.append(self._seal(table, r["id_number_enc"]))
                    olds.append(r["id_number_hash"])
                    news.append(self.vault.lookup_hash(value))
                await self.conn.execute(
                    f"""UPDATE {table} p SET id_number_enc = m.enc, id_number_hash = m.new
                        FROM unnest($1::uuid[], $2::text[], $3::text[]) AS m(id, enc, new)
                        WHERE p.id = m.id""", ids, encs, news)
                if self.has_reference:
                    await self._move_reference_hashes(olds, news)
                if self.has_payments:
                    await self.conn.execute(
                        """UPDATE payments.persons p SET id_number_hash = m.new
                           FROM unnest($1::uuid[], $2::text[]) AS m(id, new)
                           WHERE p.person_id = m.id AND p.id_number_hash <> m.new""", ids, news)
            last = rows[-1]["id"]
            self.batches += 1
            report.rotated += len(rows)
            self.progress(report.name, len(rows))

    async def _move_reference_hashes(self, olds: list[str], news: list[str]) -> None:
        pairs = [(o, n) for o, n in zip(olds, news, strict=True) if o != n]
        if not pairs:
            return
        olds, news = [p[0] for p in pairs], [p[1] for p in pairs]
        # a row of the same kind and region already under the new hash wins (uploaded since)
        await self.conn.execute(
            """DELETE FROM registration.reference_persons r
               USING unnest($1::text[], $2::text[]) AS m(old, new)
               WHERE r.id_number_hash = m.old AND EXISTS (
                   SELECT 1 FROM registration.reference_persons x WHERE x.kind = r.kind
                     AND x.region_code = r.region_code AND x.id_number_hash = m.new)""",
            olds, news)
        # their ciphertext (if any) is re-sealed by the reference step
        await self.conn.execute(
            """UPDATE registration.reference_persons r SET id_number_hash = m.new
                FROM unnest($1::text[], $2::text[]) AS m(old, new)
                WHERE r.id_number_hash = m.old""", olds, news)

    async def _reference(self, report: StepReport) -> None:
        """Reference rows still under an old key: re-hashed (and re-sealed) from their own
        ciphertext; rows without one are counted."""
        table = "registration.reference_persons"
        if self.reference_enc:
            last: tuple[str, str, str] | None = None
            while self._budget_left():
                async with self.conn.transaction():
                    rows = await self.conn.fetch(
                        f"""SELECT kind, region_code, id_number_hash, id_number_enc FROM {table}
                            WHERE {_not_current("id_number_hash", "id_number_enc")}
                              AND id_number_enc IS NOT NULL
                              AND ($2::text IS NULL OR (kind, region_code, id_number_hash)
                                   > ($2, $3, $4))
                            ORDER BY kind, region_code, id_number_hash LIMIT $5 FOR UPDATE""",
                        self.prefix, *(last or (None, None, None)), self.batch_size)
                    if not rows:
                        break
                    for r in rows:
                        value = self._decrypt(table, r["id_number_enc"])
                        new = self.vault.lookup_hash(value)
                        await self.conn.execute(
                            f"""DELETE FROM {table} WHERE kind = $1 AND region_code = $2
                                AND id_number_hash = $3 AND $3 <> $4 AND EXISTS (
                                    SELECT 1 FROM {table} x WHERE x.kind = $1
                                      AND x.region_code = $2 AND x.id_number_hash = $4)""",
                            r["kind"], r["region_code"], r["id_number_hash"], new)
                        await self.conn.execute(
                            f"""UPDATE {table} SET id_number_hash = $4, id_number_enc = $5
                                WHERE kind = $1 AND region_code = $2 AND id_number_hash = $3""",
                            r["kind"], r["region_code"], r["id_number_hash"], new,
                            self._seal(table, r["id_number_enc"]))
                last = (rows[-1]["kind"], rows[-1]["region_code"], rows[-1]["id_number_hash"])
                self.batches += 1
                report.rotated += len(rows)
                self.progress(report.name, len(rows))
        unsealed = int(await self.conn.fetchval(
            f"SELECT count(*) FROM {table} WHERE {_not_current('id_number_hash')}"
            + (" AND id_number_enc IS NULL" if self.reference_enc else ""), self.prefix))
        if unsealed:
            report.note = (f"{unsealed} 行参考数据上传时未保存密文，无法换钥：请重新上传该参考数据"
                           f"（{unsealed} reference rows hold no ciphertext: upload them again)")

    async def _payments(self, report: StepReport) -> None:
        """payments' copies still under an old hash: registration's current one (same person)."""
        last = None
        while self._budget_left():
            async with self.conn.transaction():
                rows = await self.conn.fetch(
                    f"""SELECT p.person_id, r.id_number_hash FROM payments.persons p
                        JOIN registration.persons r ON r.id = p.person_id
                        WHERE {_not_current("p.id_number_hash")}
                          AND left(r.id_number_hash, length($1)) = $1
                          AND ($2::uuid IS NULL OR p.person_id > $2)
                        ORDER BY p.person_id LIMIT $3 FOR UPDATE OF p""",
                    self.prefix, last, self.batch_size)
                if not rows:
                    return
                await self.conn.execute(
                    """UPDATE payments.persons p SET id_number_hash = m.new
                       FROM unnest($1::uuid[], $2::text[]) AS m(id, new)
                       WHERE p.person_id = m.id""",
                    [r[0] for r in rows], [r[1] for r in rows])
            last = rows[-1][0]
            self.batches += 1
            report.rotated += len(rows)
            self.progress(report.name, len(rows))

    async def _payments_alone(self, report: StepReport) -> None:
        report.note = ("registration 不在同一数据库：缴费服务的哈希随登记服务的人员事件更新"
                       "(registration is not in this database: payments' hashes follow "
                       "registration's person events)")

    async def _reporting(self, report: StepReport) -> None:
        table = "reporting.persons"
        last = None
        while self._budget_left():
            async with self.conn.transaction():
                rows = await self.conn.fetch(
                    f"""SELECT person_id, {", ".join(_REPORTING_SEALED)} FROM {table}
                        WHERE {_not_current(*_REPORTING_SEALED)}
                          AND ($2::uuid IS NULL OR person_id > $2)
                        ORDER BY person_id LIMIT $3 FOR UPDATE""",
                    self.prefix, last, self.batch_size)
                if not rows:
                    return
                await self.conn.execute(
                    f"""UPDATE {table} p SET phone_enc = m.phone, name_enc = m.name,
                            address_enc = m.address
                        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])
                            AS m(id, phone, name, address)
                        WHERE p.person_id = m.id""",
                    [r[0] for r in rows], *([self._seal(table, r[i]) for r in rows]
                                            for i in (1, 2, 3)))
            last = rows[-1][0]
            self.batches += 1
            report.rotated += len(rows)
            self.progress(report.name, len(rows))


async def rotate(dsn: str, vault: PiiVault, *, batch_size: int = 500,
                 max_batches: int | None = None, progress: Progress | None = None,
                 on_plan: Callable[[list[StepReport]], None] | None = None) -> RotationReport:
    """Rotate everything in the database at `dsn` to `vault`'s current key. `max_batches`
    stops after that many batches (the rest is done by the next run); `on_plan` receives the
    steps with their row counts before any work starts."""
    started = time.monotonic()
    conn = await asyncpg.connect(dsn, command_timeout=None)
    report = RotationReport(target=vault.current.label)
    try:
        rotator = Rotator(conn, vault, batch_size=batch_size, max_batches=max_batches,
                          progress=progress)
        steps = await rotator.plan()
        report.steps = [s for s, _ in steps]
        if on_plan:
            on_plan(report.steps)
        for step, run in steps:
            await run(step)
            step.left = await rotator._count(step.name)
        report.stopped = not rotator._budget_left()
    finally:
        await conn.close()
    report.seconds = time.monotonic() - started
    return report


def summary(report: RotationReport) -> list[str]:
    lines = [f"目标密钥 target key {report.target}:"]
    for s in report.steps:
        line = f"  {s.name:<32} 换钥 rotated {s.rotated:>9,}  剩余 left {s.left:>9,}"
        lines.append(line)
        if s.note:
            lines.append(f"    {s.note}")
    state = ("完成 complete" if report.complete else
             "已暂停，再次运行以继续 stopped: run again to carry on" if report.stopped else
             "仍有剩余 some rows left (see above)")
    lines.append(f"{state} ({report.seconds:.1f} s)")
    return lines


__all__ = ["RotationError", "RotationReport", "StepReport", "rotate", "summary"]
