"""The plans in force, kept at run time: drafts, publications and the catalog built from them.

Eligibility owns plans. Every version ever seen is stored in `policies` (content and source,
keyed by its content hash); every publication of a version for a region and year is a row of
`plan_publications` and an `eligibility.plan.v1` event carrying the whole content. The plan in
force for a region and year is the publication of the highest id whose effective day has come
(Beijing). At first start, the seed files shipped in `services/eligibility/policies` (or the
folder `CANBAO_POLICIES_DIR` names) are published; after that the files are not read again.
Looked up county -> city -> province.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from contracts.plan import PlanPublished
from kernels.policy import Policy, PolicyCatalog, PolicyFileError, parse_policy
from services.eligibility.plans import repository as repo
from shared import audit
from shared.outbox import Outbox

log = logging.getLogger(__name__)
S = "eligibility"
SEED_DIR = Path(__file__).resolve().parents[1] / "policies"
BEIJING = ZoneInfo("Asia/Shanghai")
SEED_ACTOR = "seed"
_SEED_LOCK = 0x706C616E  # 'plan': one process seeds the registry


def beijing_today() -> dt.date:
    return dt.datetime.now(BEIJING).date()


def seed_folder(folder: str | Path | None) -> Path:
    return Path(folder) if folder else SEED_DIR


Changed = tuple[str, int, str | None, str]  # region, year, version before (None: new), after


class PlanRegistry:
    def __init__(self, catalog: PolicyCatalog) -> None:
        self.catalog = catalog
        self._parsed: dict[str, Policy] = {p.version: p for p in catalog}
        self._seen: tuple[int, dt.date] | None = None

    @classmethod
    def from_folder(cls, folder: str | Path | None = None) -> PlanRegistry:
        """A registry of the seed files (or another folder), without the database."""
        return cls(PolicyCatalog.load(seed_folder(folder)))

    def find(self, region_code: str, plan_year: int) -> Policy | None:
        return self.catalog.find(region_code, plan_year)

    def resolve(self, region_code: str, plan_year: int) -> Policy:
        return self.catalog.resolve(region_code, plan_year)

    def by_version(self, version: str) -> Policy | None:
        return self._parsed.get(version) or next(
            (p for p in self.catalog if p.version == version), None)

    async def record(self, session: AsyncSession | AsyncConnection) -> list[Policy]:
        """Store every plan of the catalog; returns those whose version was not stored before."""
        new = [p for p in self.catalog if await store_version(session, p)]
        for policy in new:
            log.info("plan %s-%s loaded, version %s", policy.region_code, policy.plan_year,
                     policy.short_version)
        return new

    # --- the registry in the database -------------------------------------------------------

    async def seed(self, session: AsyncSession, outbox: Outbox,
                   folder: str | Path | None = None) -> int:
        """At first start (no publication yet), publish every seed file; returns how many."""
        await repo.lock_seeding(session, _SEED_LOCK)
        if await repo.any_publication_at_all(session):
            return 0
        seeds = PolicyCatalog.load(seed_folder(folder))
        for policy in seeds:
            await publish_version(session, outbox, policy, effective_on=policy.source.issued_on,
                                  actor=SEED_ACTOR, correction=False)
        log.info("eligibility: %d seed plans published to the registry", len(seeds))
        return len(seeds)

    async def refresh(self, conn: AsyncConnection | AsyncSession,
                      today: dt.date | None = None, *, force: bool = False) -> list[Changed]:
        """Rebuild the catalog from the publications; returns the (region, year) whose plan in
        force changed (new ones included)."""
        day = today or beijing_today()
        latest = await repo.newest_publication_id(conn)
        if not force and self._seen == (latest, day):
            return []
        rows = await repo.in_force(conn, day)
        found: dict[tuple[str, int], Policy] = {}
        for version, content in rows:
            policy = self._parsed.get(version)
            if policy is None:
                try:
                    policy = parse_policy(content, f"plan {version[:16]}")
                except PolicyFileError:
                    log.exception("eligibility: stored plan %s is not valid", version)
                    continue
                self._parsed[version] = policy
            found[(policy.region_code, policy.plan_year)] = policy
        before = {(p.region_code, p.plan_year): p.version for p in self.catalog}
        self.catalog = PolicyCatalog(found)
        self._seen = (latest, day)
        return [(r, y, before.get((r, y)), p.version) for (r, y), p in sorted(found.items())
                if before.get((r, y)) != p.version]

    async def follow(self, engine: AsyncEngine, stop: asyncio.Event,
                     on_change: Callable[[list[Changed]], Awaitable[None]] | None = None,
                     interval: float = 2.0) -> None:
        """Refresh every `interval` seconds (other replicas' publications, plans whose day
        has come) until `stop` is set; `on_change` hears what changed."""
        while not stop.is_set():
            try:
                async with engine.connect() as conn:
                    changed = await self.refresh(conn)
                if changed and on_change is not None:
                    await on_change(changed)
            except Exception:
                log.warning("eligibility: could not refresh the plans", exc_info=True)
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass


def source_of(policy: Policy) -> dict[str, object]:
    src = policy.source
    return {
        "title": src.title, "document_number": src.document_number, "issuer": src.issuer,
        "issued_on": src.issued_on.isoformat(), "seed_file": src.seed_file,
        "file": policy.path.name if policy.path else None,
    }


def content_json(policy: Policy) -> str:
    return orjson.dumps(policy.raw, default=str).decode()


async def store_version(session: AsyncSession | AsyncConnection, policy: Policy) -> bool:
    return await repo.insert_version(session, {
        "v": policy.version, "r": policy.region_code, "y": policy.plan_year,
        "s": orjson.dumps(source_of(policy)).decode(), "c": content_json(policy)})


async def publish_version(session: AsyncSession, outbox: Outbox, policy: Policy, *,
                          effective_on: dt.date, actor: Any, correction: bool,
                          draft_id: Any = None, republished_from: int | None = None,
                          ) -> dict[str, Any]:
    """One publication: the row, the `eligibility.plan.v1` event and the audit entry, in the
    caller's transaction. `actor`: a Principal or a name ('seed')."""
    await store_version(session, policy)
    by = actor if isinstance(actor, str) else actor.subject
    row = await repo.insert_publication(session, {
        "r": policy.region_code, "y": policy.plan_year, "v": policy.version, "e": effective_on,
        "c": correction, "d": draft_id, "f": republished_from, "by": by})
    payload = PlanPublished(
        region_code=policy.region_code, plan_year=policy.plan_year, version=policy.version,
        publication=row.id, effective_on=effective_on,
        content=orjson.loads(content_json(policy)), correction=correction,
        republished_from=republished_from, published_by=by, published_at=row.published_at)
    await outbox.add(session, payload, subject=payload.key())
    await audit.record(session, S, actor=actor, action="plan.publish",
                       resource=f"plan/{payload.key()}", details={
                           "publication": row.id, "version": policy.version,
                           "effective_on": effective_on.isoformat(), "correction": correction,
                           "draft_id": str(draft_id) if draft_id else None,
                           "republished_from": republished_from})
    return {"publication": row.id, "region_code": policy.region_code,
            "plan_year": policy.plan_year, "version": policy.version,
            "effective_on": effective_on.isoformat(), "correction": correction,
            "republished_from": republished_from, "published_by": by,
            "published_at": row.published_at.isoformat()}
