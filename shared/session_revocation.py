"""Browser sessions ended on the server side, seen by every replica of every service.

A session cookie (shared/web_session.py) is signed, not stored: without this module a copy of
one stays valid until it expires, even after its owner signed out. Two kinds of revocation are
kept in PostgreSQL, in the deployment-wide schema `canbao_sessions` (on
`CANBAO_SESSION_DATABASE_URL`, else the service's own database: point every service at the
same server when they have separate database servers):

`revoked_sessions (sid, expires_at)`
    One session ended: written at sign-out (`/auth/logout`). Rows go once the session would
    have expired anyway.
`revoked_subjects (subject, revoked_before)`
    Every session of one person issued up to that moment ended (a member of staff who left,
    a lost device): `canbao sessions revoke --subject ...`.

Each process keeps both lists in memory and reloads them every
`CANBAO_SESSION_REVOCATION_REFRESH_SECONDS` (default 5) in the background, so that checking a
request costs a set lookup and no database round trip; a revocation made by another replica
takes effect here within that interval (its own process sees it at once). When the database
cannot be read the last lists are kept and the failure is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from shared.principals import Principal
from shared.settings import to_plain_url

log = logging.getLogger("canbao.sessions")

SCHEMA = "canbao_sessions"
_CREATE = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.revoked_sessions (
    sid text PRIMARY KEY,
    subject text NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.revoked_subjects (
    subject text PRIMARY KEY,
    revoked_before timestamptz NOT NULL,
    revoked_by text NOT NULL,
    reason text NOT NULL DEFAULT ''
);
"""


class SessionRevocations:
    """The sessions ended before their expiry; `is_revoked` is what every request checks."""

    def __init__(self, dsn: str | Callable[[], str], *, refresh_seconds: float = 5.0) -> None:
        self._dsn = dsn
        self.refresh_seconds = refresh_seconds
        self._sids: dict[str, float] = {}
        self._subjects: dict[str, float] = {}
        self._ready = False
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def dsn(self) -> str:
        return to_plain_url(self._dsn() if callable(self._dsn) else self._dsn)

    def is_revoked(self, principal: Principal) -> bool:
        if principal.token_id is not None and principal.token_id in self._sids:
            return True
        before = self._subjects.get(principal.subject)
        return before is not None and principal.issued_at <= before

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self.dsn)
        if not self._ready:
            async with self._lock:
                if not self._ready:
                    await conn.execute(_CREATE)
                    self._ready = True
        return conn

    async def refresh(self) -> None:
        conn = await self._connect()
        try:
            await conn.execute(f"DELETE FROM {SCHEMA}.revoked_sessions WHERE expires_at < now()")
            sids = await conn.fetch(
                f"SELECT sid, extract(epoch FROM expires_at)::float8 AS e "
                f"FROM {SCHEMA}.revoked_sessions")
            subjects = await conn.fetch(
                f"SELECT subject, extract(epoch FROM revoked_before)::float8 AS b "
                f"FROM {SCHEMA}.revoked_subjects")
        finally:
            await conn.close()
        self._sids = {r["sid"]: r["e"] for r in sids}
        self._subjects = {r["subject"]: r["b"] for r in subjects}

    async def revoke_session(self, principal: Principal) -> None:
        """End the session `principal` came from (sign-out)."""
        if principal.token_id is None:
            return
        self._sids[principal.token_id] = float(principal.expires_at)
        conn = await self._connect()
        try:
            await conn.execute(
                f"INSERT INTO {SCHEMA}.revoked_sessions (sid, subject, expires_at) "
                f"VALUES ($1, $2, to_timestamp($3)) ON CONFLICT (sid) DO NOTHING",
                principal.token_id, principal.subject, float(principal.expires_at))
        finally:
            await conn.close()

    async def revoke_subject(self, subject: str, *, by: str, reason: str = "") -> float:
        """End every session of `subject` issued up to now; returns the cut-off (epoch s)."""
        conn = await self._connect()
        try:
            before = await conn.fetchval(
                f"INSERT INTO {SCHEMA}.revoked_subjects (subject, revoked_before, revoked_by, "
                f"reason) VALUES ($1, now(), $2, $3) ON CONFLICT (subject) DO UPDATE SET "
                f"revoked_before = now(), revoked_by = $2, reason = $3 "
                f"RETURNING extract(epoch FROM revoked_before)::float8", subject, by, reason)
        finally:
            await conn.close()
        self._subjects[subject] = before
        return float(before)

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("session revocations not refreshed (keeping the last %d): %s",
                            len(self._sids) + len(self._subjects), exc)
            await asyncio.sleep(self.refresh_seconds)

    async def start(self) -> None:
        """Load the lists once, then keep them fresh in the background."""
        try:
            await self.refresh()
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("session revocations not loaded at start: %s", exc)
        self._task = asyncio.create_task(self._loop(), name="session-revocations")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

