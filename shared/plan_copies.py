"""A service's own copy of the published plans, kept from `eligibility.plan.v1` events.

Payments, reporting and registration need plans (coverage, late payment, periods, targets,
plan years) but never read eligibility's files nor import its code: each keeps every
publication it received in its own `<schema>.plans` table and builds plan objects from the
content with the policy kernel, which the service hands in (`parse`: content -> plan, e.g.
`kernels.policy.parse_policy`; `index`: {(region, year): plan} -> catalog, e.g.
`kernels.policy.PolicyCatalog`), so that platform code does not depend on the kernel. The plan
in force for a region and year is the publication of the highest number whose `effective_on`
has come (Beijing date). A process reloads its catalog every few seconds (the events it and
other replicas stored, plans that take effect at a set date).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from contracts.plan import PlanPublished
from shared.events import CloudEvent
from shared.inbox import EventRouter
from shared.service import ConsumerSpec
from shared.topics import ELIGIBILITY_PLAN

log = logging.getLogger(__name__)
BEIJING = ZoneInfo("Asia/Shanghai")


class Plan(Protocol):
    @property
    def version(self) -> str: ...
    @property
    def region_code(self) -> str: ...
    @property
    def plan_year(self) -> int: ...
    @property
    def short_version(self) -> str: ...


P = TypeVar("P", bound=Plan)
C = TypeVar("C")


class InvalidPlanEvent(ValueError):
    """A plan event whose content is not a valid plan or does not hash to its version."""


def read_event(data: dict[str, Any], parse: Callable[[Any, str], P]) -> tuple[PlanPublished, P]:
    """The payload and the plan built from its content; the content must hash to `version`
    (`parse` raises ValueError on a content that is not a valid plan)."""
    payload = PlanPublished.model_validate(data)
    try:
        policy = parse(payload.content, f"{payload.key()} #{payload.publication}")
    except ValueError as exc:
        raise InvalidPlanEvent(str(exc)) from None
    if (policy.version, policy.region_code, policy.plan_year) != (
            payload.version, payload.region_code, payload.plan_year):
        raise InvalidPlanEvent(f"plan event {payload.key()} #{payload.publication}: the content "
                               f"is version {policy.version}, the event says {payload.version}")
    return payload, policy


def beijing_today() -> dt.date:
    return dt.datetime.now(BEIJING).date()


class PlanCopies(Generic[P, C]):
    """The plans one service holds; `catalog` is what its code looks plans up in."""

    def __init__(self, schema: str, parse: Callable[[Any, str], P],
                 index: Callable[[dict[tuple[str, int], P]], C]) -> None:
        self.schema = schema
        self.parse = parse
        self.index = index
        self.catalog: C = index({})
        self._plans: dict[tuple[str, int], P] = {}
        self._numbers: dict[tuple[str, int], int] = {}  # the publication in force, per key
        self._parsed: dict[str, P] = {}  # version -> plan, parsed once per process
        self._seen: tuple[int, dt.date] | None = None

    async def store(self, session: AsyncSession, event: CloudEvent) -> bool:
        """Keep one publication (idempotent on its number and version); True when new."""
        payload, policy = read_event(event.data, self.parse)
        row = (await session.execute(text(f"""
            INSERT INTO {self.schema}.plans (publication, region_code, plan_year, version,
                effective_on, correction, content, published_by, published_at)
            VALUES (:n, :r, :y, :v, :e, :c, CAST(:content AS jsonb), :by, :at)
            ON CONFLICT (publication, version) DO NOTHING RETURNING publication"""), {
            "n": payload.publication, "r": payload.region_code, "y": payload.plan_year,
            "v": payload.version, "e": payload.effective_on, "c": payload.correction,
            "content": orjson.dumps(payload.content).decode(), "by": payload.published_by,
            "at": payload.published_at})).first()
        self._parsed.setdefault(policy.version, policy)
        if row is not None:
            log.info("%s: plan %s version %s (publication %d, in force from %s) received",
                     self.schema, payload.key(), policy.short_version, payload.publication,
                     payload.effective_on)
            self._take(payload, policy)
        return row is not None

    def _take(self, payload: PlanPublished, policy: P) -> None:
        """Use a stored plan in this process at once if it is in force (the table, which every
        refresh reads, holds it once the consumer's transaction commits; a rolled-back one is
        delivered again)."""
        key = (payload.region_code, payload.plan_year)
        if payload.effective_on > beijing_today() or \
                payload.publication < self._numbers.get(key, 0):
            return
        self._numbers[key] = payload.publication
        self._plans = {**self._plans, key: policy}
        self.catalog = self.index(self._plans)

    def years(self) -> frozenset[int]:
        """The plan years some region has a plan in force for."""
        return frozenset(year for _, year in self._plans)

    def consumer(self) -> ConsumerSpec:
        """The consumer `<schema>-plans` that keeps the publications in `<schema>.plans`."""
        router = EventRouter()

        @router.on(PlanPublished)
        async def published(session: AsyncSession, data: PlanPublished,
                            event: CloudEvent) -> None:
            await self.store(session, event)

        return ConsumerSpec(f"{self.schema}-plans", (ELIGIBILITY_PLAN,), router)

    async def refresh(self, engine: AsyncEngine, today: dt.date | None = None) -> bool:
        """Rebuild the catalog from the table when something changed; True if it did."""
        day = today or beijing_today()
        async with engine.connect() as conn:
            latest = (await conn.execute(text(
                f"SELECT count(*) FROM {self.schema}.plans"))).scalar_one()
            if self._seen == (latest, day):
                return False
            rows = (await conn.execute(text(f"""
                SELECT DISTINCT ON (region_code, plan_year) version, content, publication
                FROM {self.schema}.plans WHERE effective_on <= :day
                ORDER BY region_code, plan_year, publication DESC, received_at DESC"""),
                {"day": day})).all()
        found: dict[tuple[str, int], P] = {}
        numbers: dict[tuple[str, int], int] = {}
        for version, content, number in rows:
            policy = self._parsed.get(version)
            if policy is None:
                try:
                    policy = self.parse(content, f"{self.schema}.plans {version[:16]}")
                except ValueError:
                    log.exception("%s: stored plan %s is not valid", self.schema, version)
                    continue
                self._parsed[version] = policy
            found[(policy.region_code, policy.plan_year)] = policy
            numbers[(policy.region_code, policy.plan_year)] = number
        self._plans, self._numbers = found, numbers
        self.catalog = self.index(found)
        self._seen = (latest, day)
        return True

    async def follow(self, engine: AsyncEngine, stop: asyncio.Event,
                     interval: float = 2.0) -> None:
        """Refresh every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            try:
                await self.refresh(engine)
            except Exception:  # the database is away: keep the catalog we have
                log.warning("%s: could not refresh the plans", self.schema, exc_info=True)
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
