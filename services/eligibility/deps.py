"""Eligibility's typed dependencies: what routers are given instead of reading
`request.app.state`.

- `PlansDep`: the plans registry (the catalog in force, kept current at run time).
- `OutboxDep`: the service's outbox.
- `EngineDep`: the database engine (simulations and long reads open their own connections).
- `RedeterminatorDep`: the redetermination jobs (exists while the app runs).
- `JobsDep`: starts a redetermination job in the background, tracked by the app.
- `PlansChangedDep`: takes publications into the catalog now (corrections start their
  re-determination).
- `PrincipalDep`: the authenticated caller (the app-wide access check has run).
- `DeterminationRepositoryDep`, `PlanRepositoryDep`: reads over the request's session.
- `PlanDraftsDep`: drafts and publication in the request's unit of work: one transaction, begun
  when the route first touches the database and committed once when the route function returns
  (rolled back when it raises); a publication made in it is taken into the catalog right after
  the commit. Routers that take it never open or commit transactions themselves.
- `PlanDraftReadsDep`: drafts over the request's session outside a transaction (the draft
  simulation, which closes the session before its long read).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.eligibility.determinations.repository import DeterminationRepository
from services.eligibility.plans.drafts import PlanDrafts
from services.eligibility.plans.registry import PlanRegistry
from services.eligibility.plans.repository import PlanRepository
from services.eligibility.redeterminations.service import Redeterminator
from shared.auth import PrincipalDep
from shared.db import SessionDep
from shared.outbox import Outbox

__all__ = [
    "DeterminationRepositoryDep", "EngineDep", "Jobs", "JobsDep", "OutboxDep",
    "PlanDraftReadsDep", "PlanDraftsDep", "PlanRepositoryDep", "PlansChangedDep", "PlansDep",
    "PrincipalDep", "RedeterminatorDep", "start_job",
]


def start_job(app: FastAPI, job_id: int) -> None:
    """Run a redetermination job in the background until it ends or the service stops."""
    runtime = app.state.runtime
    redeterminator: Redeterminator = app.state.redeterminator
    task = asyncio.create_task(redeterminator.run(job_id, stop=runtime.stop),
                               name=f"redetermination-{job_id}")
    app.state.jobs.add(task)
    task.add_done_callback(app.state.jobs.discard)


class Jobs:
    """Starts redetermination jobs in the app's background."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def start(self, job_id: int) -> None:
        start_job(self._app, job_id)


def _plans(request: Request) -> PlanRegistry:
    found: PlanRegistry = request.app.state.plans
    return found


def _outbox(request: Request) -> Outbox:
    found: Outbox = request.app.state.outbox
    return found


def _engine(request: Request) -> AsyncEngine:
    found: AsyncEngine = request.app.state.runtime.engine
    return found


def _redeterminator(request: Request) -> Redeterminator:
    found: Redeterminator = request.app.state.redeterminator
    return found


def _jobs(request: Request) -> Jobs:
    return Jobs(request.app)


def _plans_changed(request: Request) -> Callable[[], Awaitable[Any]]:
    found: Callable[[], Awaitable[Any]] = request.app.state.plans_changed_now
    return found


def _determinations(session: SessionDep) -> DeterminationRepository:
    return DeterminationRepository(session)


def _plan_rows(session: SessionDep) -> PlanRepository:
    return PlanRepository(session)


PlansDep = Annotated[PlanRegistry, Depends(_plans)]
OutboxDep = Annotated[Outbox, Depends(_outbox)]
EngineDep = Annotated[AsyncEngine, Depends(_engine)]
RedeterminatorDep = Annotated[Redeterminator, Depends(_redeterminator)]
JobsDep = Annotated[Jobs, Depends(_jobs)]
PlansChangedDep = Annotated[Callable[[], Awaitable[Any]], Depends(_plans_changed)]
DeterminationRepositoryDep = Annotated[DeterminationRepository, Depends(_determinations)]
PlanRepositoryDep = Annotated[PlanRepository, Depends(_plan_rows)]


def _plan_draft_reads(session: SessionDep, outbox: OutboxDep, plans: PlansDep) -> PlanDrafts:
    return PlanDrafts(session, outbox, plans)


async def _plan_drafts(session: SessionDep, outbox: OutboxDep, plans: PlansDep,
                       plans_changed_now: PlansChangedDep) -> AsyncIterator[PlanDrafts]:
    drafts = PlanDrafts(session, outbox, plans)
    async with session.begin():
        yield drafts
    if drafts.published:  # take the publication into the catalog now (corrections start
        await plans_changed_now()  # their re-determination)


PlanDraftReadsDep = Annotated[PlanDrafts, Depends(_plan_draft_reads)]
# scope="function": the transaction ends when the route function returns, before the answer
PlanDraftsDep = Annotated[PlanDrafts, Depends(_plan_drafts, scope="function")]
