"""What every service has: the app factory, health and readiness, metrics, and the event bus
(one producer, the outbox relay, and the inbox consumers) running beside the HTTP server."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any, Literal

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kernels.regions import load_regions
from shared import audit
from shared.access import allow
from shared.api_docs import ASSETS_PATH as DOCS_ASSETS_PATH
from shared.api_docs import install_docs
from shared.auth import (
    OPERATIONS_PATHS,
    AccessControl,
    AccessRule,
    PrincipalDep,
    enforce_access,
    install_access_control,
)
from shared.db import make_engine, make_sessionmaker, ping
from shared.errors import Invalid, install_error_handlers
from shared.group_commit import GroupCommit
from shared.inbox import Handler, InboxConsumer
from shared.kafka import broker_reachable, ensure_topics, make_consumer, make_producer
from shared.limits import install_limits
from shared.migrations import current_revision, head_revision
from shared.observability import (
    DB_POOL,
    REQUEST_LATENCY,
    access_log,
    correlation_id,
    correlation_id_from,
)
from shared.oidc import SIGN_IN_PATHS, SignIn, sign_in_router
from shared.openapi import document_errors
from shared.outbox import Outbox, OutboxRelay
from shared.plain_pool import LazyPool
from shared.security_settings import SecuritySettings, get_security_settings
from shared.session_revocation import SessionRevocations
from shared.settings import Settings, get_settings
from shared.topics import PRODUCED_BY, dead_letter_topic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerSpec:
    name: str
    topics: tuple[str, ...]
    handler: Handler
    # Apply the partitions of one poll side by side (settings.consumer_parallel_partitions at
    # once) instead of one after the other. Only for a handler whose events of different keys
    # never meet in the same rows without a lock: events of one key stay in order either way,
    # but two keys' transactions no longer see each other's writes.
    parallel: bool = False


PROBE_SECONDS = 15.0
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def settle_startup_objects() -> None:
    """Load what every request reads (the division tree), then move everything alive after
    startup out of the collector's reach (gc.freeze): the tree, the plans and the modules are
    a few hundred thousand long-lived objects, and a full collection that walks them all
    stopped a request for 90 ms (bench/results/reporting_progress_one_statement.txt). Objects made later
    are collected as usual; a plan catalog replaced later is not, a bounded leak."""
    load_regions()
    gc.collect()
    gc.freeze()


@dataclass
class Runtime:
    """The process-wide parts of one service, kept on `app.state.runtime`."""

    name: str
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    outbox: Outbox
    consumer_specs: Sequence[ConsumerSpec] = ()
    producer: AIOKafkaProducer | None = None
    relay: OutboxRelay | None = None
    consumers: list[InboxConsumer] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    # set after the consumers have stopped: the relay then publishes what they and the last
    # requests wrote, and ends
    relay_stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    consumer_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    bus_ready: bool = False
    # async probes that refresh gauges from the database every PROBE_SECONDS (payments: open
    # suspense); each gets the engine
    probes: Sequence[Callable[[AsyncEngine], Any]] = ()
    # a small plain asyncpg pool for the platform's per-request writes (the audit batches),
    # made on first use and closed at shutdown
    plain: LazyPool = field(init=False)

    def __post_init__(self) -> None:
        self.plain = LazyPool(lambda: self.settings.database_url, size=2, timeout=10,
                              command_timeout=30)

    @property
    def topics(self) -> set[str]:
        wanted = set(PRODUCED_BY[self.name])
        for spec in self.consumer_specs:
            wanted.update(spec.topics)
            wanted.add(dead_letter_topic(spec.name))
        return wanted

    async def start(self) -> None:
        pool = self.engine.pool
        for state, read in (("size", "size"), ("in_use", "checkedout"),
                            ("overflow", "overflow")):
            if callable(getattr(pool, read, None)):
                DB_POOL.labels(self.name, state).set_function(getattr(pool, read))
        self.tasks.append(asyncio.create_task(self._run_bus(), name=f"{self.name}-bus"))
        if self.probes:
            self.tasks.append(asyncio.create_task(self._run_probes(),
                                                  name=f"{self.name}-probes"))

    async def _run_probes(self) -> None:
        while not self.stop.is_set():
            for probe in self.probes:
                try:
                    await probe(self.engine)
                except Exception as exc:  # a gauge left stale is no reason to stop serving
                    log.warning("%s: metrics probe failed: %r", self.name, exc)
            try:
                await asyncio.wait_for(self.stop.wait(), PROBE_SECONDS)
            except TimeoutError:
                pass

    async def _run_bus(self) -> None:
        """Connect to the broker (waiting for it if it is down), then run relay and consumers."""
        backoff = 0.5
        while not self.stop.is_set():
            producer = make_producer(self.settings)
            try:
                await ensure_topics(self.settings, self.topics)
                await producer.start()
                break
            except Exception as exc:
                await producer.stop()
                log.warning("%s: broker not available (%s); retrying in %.1fs", self.name, exc, backoff)
                try:
                    await asyncio.wait_for(self.stop.wait(), backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, 10.0)
        else:
            return
        self.producer = producer
        s = self.settings
        workers: list[asyncio.Task[None]] = []
        if s.relay_enabled:
            self.relay = OutboxRelay(
                self.engine, self.name, producer,
                batch_size=s.relay_batch_size,
                poll_interval=s.relay_poll_interval_ms / 1000,
                idle_interval=s.relay_idle_poll_interval_ms / 1000,
                lease_seconds=s.relay_lease_seconds,
                max_backoff=s.relay_max_backoff_seconds,
                retention=s.outbox_retention_days * 86400,  # 0: kept
                prune_every=s.outbox_prune_interval_seconds,
            )
            workers.append(asyncio.create_task(self.relay.run(self.relay_stop),
                                               name=f"{self.name}-relay"))
        if s.consumers_enabled:
            for spec in self.consumer_specs:
                consumer = InboxConsumer(
                    name=spec.name, schema=self.name, topics=spec.topics, handler=spec.handler,
                    sessions=self.sessions,
                    consumer_factory=partial(make_consumer, s, spec.name, spec.topics),
                    dlt_producer=producer, max_failures=s.consumer_max_failures, service=self.name,
                    parallel_partitions=s.consumer_parallel_partitions if spec.parallel else 1,
                )
                self.consumers.append(consumer)
                task = asyncio.create_task(consumer.run(self.stop), name=spec.name)
                self.consumer_tasks.append(task)
                workers.append(task)
        self.bus_ready = True
        await asyncio.gather(*workers)

    async def shutdown(self, timeout: float = 15.0) -> None:
        """Stop taking new work and finish what is in flight, within `timeout` seconds:
        uvicorn has already answered the requests in flight; the consumers finish the batch
        in hand (applied and its offsets committed, or left uncommitted for redelivery) and
        leave their groups; then the relay publishes what the requests and those last batches
        wrote and gives its shards back. Then connections are closed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.stop.set()
        if self.consumer_tasks:
            await asyncio.wait(self.consumer_tasks, timeout=timeout / 2)
        self.relay_stop.set()
        if self.tasks:
            done, pending = await asyncio.wait(self.tasks,
                                               timeout=max(0.1, deadline - loop.time()))
            for task in pending:
                log.warning("%s: %s did not finish in time; cancelled", self.name,
                            task.get_name())
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception():
                    log.error("%s: %s ended with %r", self.name, task.get_name(), task.exception())
        if self.producer is not None:
            await self.producer.stop()
        await self.plain.close()
        await self.engine.dispose()

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            await asyncio.wait_for(ping(self.engine), 2)
            checks["database"] = "ok"
            current = await current_revision(self.engine, self.name)
            head = head_revision(self.name)
            checks["migrations"] = "ok" if current == head else f"at {current}, head is {head}"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["broker"] = "ok" if await broker_reachable(self.settings) else "unreachable"
        checks["event_bus"] = "ok" if self.bus_ready else "starting"
        return checks


class _ObservabilityMiddleware:
    """Correlation ids in and out, and request latency, as plain ASGI (cheap on hot paths)."""

    def __init__(self, app: Any, service: str, access_log: bool = True) -> None:
        self.app = app
        self.service = service
        self.access_log = access_log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = correlation_id_from(
            next((v for k, v in scope["headers"] if k == b"x-correlation-id"), None))
        token = correlation_id.set(cid)
        status = {"code": 500}
        started = time.perf_counter()

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-correlation-id", cid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            seconds = time.perf_counter() - started
            REQUEST_LATENCY.labels(self.service, scope["method"], path, str(status["code"])).observe(
                seconds
            )
            # health checks and scrapes (every few seconds) only at DEBUG
            level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
            if self.access_log and access_log.isEnabledFor(level):
                client = scope.get("client")
                # the route template, never the path: paths may carry ids (never ID numbers)
                access_log.log(level, "%s %s %s", scope["method"], path, status["code"], extra={
                    "service": self.service, "method": scope["method"], "route": path,
                    "status": status["code"], "duration_ms": round(seconds * 1000, 2),
                    "client": client[0] if client else None})
            correlation_id.reset(token)


@dataclass(frozen=True)
class AuditedRead:
    """A read that is audited like a write (the full ID number, for one): every call, whatever
    its outcome, lands in the audit log as `action` on `resource` (a template filled from the
    route's path parameters, e.g. "person/{person_id}"). A handler that writes its own entry
    (in the transaction that reads the data) sets `request.state.audit_recorded = True`; the
    middleware then records nothing more, and otherwise records the refusal or failure."""

    action: str
    resource: str


class ReadAudit:
    """A route's own audit entries of reads (see AuditedRead): recorded in the caller's
    transaction with the client's address, and the audit middleware told that the route
    recorded the request itself. Routers take it as `ReadAuditDep`."""

    def __init__(self, request: Request) -> None:
        self._request = request

    async def record(self, session: AsyncSession, schema: str, *, actor: Any, action: str,
                     resource: str, details: dict[str, Any], outcome: str = "ok") -> None:
        client = self._request.client
        await audit.record(session, schema, actor=actor, action=action, resource=resource,
                           outcome=outcome, client_ip=client.host if client else None,
                           details=details)
        self._request.state.audit_recorded = True


ReadAuditDep = Annotated[ReadAudit, Depends(ReadAudit)]


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}/]+\}", template)
    return re.compile("[^/]+".join(re.escape(p) for p in parts) + r"\Z")


class _AuditMiddleware:
    """Every write (POST, PUT, PATCH, DELETE) on a token-protected route lands in the service's
    append-only audit log: who, what, when, from where, and how it ended. Public routes
    (channel webhooks) keep their own record: the raw notification is stored before answering.
    GET routes named in `audited_reads` are recorded too (see AuditedRead)."""

    WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app: Any, service: str, public_paths: frozenset[str],
                 audited_reads: Mapping[str, AuditedRead] | None = None) -> None:
        self.app = app
        self.service = service
        self.public_paths = public_paths
        self.audited_reads = dict(audited_reads or {})
        # matched against the raw path before routing, so other GETs cost one regex at most
        self._read_paths = (re.compile("|".join(f"(?:{_template_regex(t).pattern})"
                                                for t in self.audited_reads))
                            if self.audited_reads else None)
        self._committer: GroupCommit[dict[str, Any], None] | None = None
        self._committer_runtime: Runtime | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in self.WRITES and not (
                method in ("GET", "HEAD") and self._read_paths is not None
                and self._read_paths.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or scope["path"]
            if method in self.WRITES:
                if template not in self.public_paths:
                    await self._record(scope, template, status["code"])
            elif (read := self.audited_reads.get(template)) is not None and \
                    not scope.get("state", {}).get("audit_recorded"):
                try:
                    resource = read.resource.format(**scope.get("path_params", {}))
                except (KeyError, IndexError, ValueError):
                    resource = scope["path"]
                await self._record(scope, template, status["code"], action=read.action,
                                   resource=resource)

    async def _record(self, scope: dict[str, Any], template: str, code: int, *,
                      action: str | None = None, resource: str | None = None) -> None:
        state = scope.get("state", {})
        principal = state.get("principal")
        outcome = "ok" if code < 400 else "denied" if code in (401, 403) else "failed"
        client = scope.get("client")
        try:
            item = audit.entry(
                actor=principal or "anonymous", action=action or f"{scope['method']} {template}",
                resource=resource or scope["path"], outcome=outcome,
                client_ip=client[0] if client else None, details={"status": code},
                region=state.get("audit_region"))
            await self._writer(scope["app"].state.runtime).submit(item)
        except Exception:  # the write itself has happened; never turn it into an error
            log.exception("%s: could not write the audit record", self.service)

    def _writer(self, runtime: Runtime) -> GroupCommit[dict[str, Any], None]:
        """Entries of concurrent calls are written together (one statement per batch, each
        call waits for its own batch's commit): at the peak of bill lookups one entry per call
        costs a transaction per call otherwise. The batches go over the runtime's plain pool
        (`Runtime.plain`): one round trip each, no BEGIN and COMMIT around them."""
        if self._committer is None or self._committer_runtime is not runtime:
            plain = runtime.plain

            async def flush(items: list[dict[str, Any]]) -> list[None]:
                await audit.record_many(await plain.get(), self.service, items)
                return [None] * len(items)

            self._committer = GroupCommit(flush, max_batch=256, max_in_flight=2)
            self._committer_runtime = runtime
        return self._committer


class Liveness(BaseModel):
    """存活 / the process answers (no dependency is checked: see /readyz)."""

    status: Literal["alive"]
    service: str


class Readiness(BaseModel):
    """就绪检查 / readiness: every check "ok", else what is wrong (HTTP 503)."""

    status: Literal["ready", "not_ready"]
    service: str
    checks: dict[str, str] = Field(description="database, migrations, broker, event_bus")


class AuditLogEntry(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    role: str | None
    region: str | None
    action: str
    resource: str
    outcome: str = Field(description="ok | denied | failed")
    client_ip: str | None
    correlation_id: str | None
    details: dict[str, Any]


class AuditLogPage(BaseModel):
    """一页审计记录, 新的在前 / one page of audit entries, newest first."""

    items: list[AuditLogEntry]
    next_cursor: str | None = Field(description="下一页 / the next page's cursor; null: the end")


def _audit_router(service: str) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/v1/audit", summary="审计日志 / the audit log (administrators)",
                response_model=AuditLogPage)
    async def read_audit(
        request: Request, principal: PrincipalDep,
        actor: str | None = Query(None, description="操作人 / who acted (token subject)"),
        action: str | None = Query(None, description="操作 / action, e.g. person.read_full_id"),
        limit: int = Query(100, ge=1, le=1000, description="每页条数 / items per page"),
        cursor: str | None = Query(None, description="上一页的 next_cursor / the previous "
                                                      "page's next_cursor"),
    ) -> dict[str, Any]:
        async with request.app.state.runtime.engine.connect() as conn:
            try:
                # limited to the caller's region like every read (nationwide: everything)
                page = await audit.query(conn, service, actor=actor, action=action, limit=limit,
                                         cursor=cursor, region_prefix=principal.region_filter)
            except audit.InvalidCursor:
                raise Invalid("cursor is not valid", field="cursor",
                              code="invalid_cursor") from None
        return {"items": [e.__dict__ for e in page.entries], "next_cursor": page.next_cursor}

    return router


def create_service_app(
    name: str,
    *,
    routers: Sequence[APIRouter] = (),
    consumers: Sequence[ConsumerSpec] = (),
    settings: Settings | None = None,
    title: str | None = None,
    on_startup: Callable[[Runtime], Any] | None = None,
    access_rules: Mapping[tuple[str, str], AccessRule] | None = None,
    public_paths: Iterable[str] = (),
    read_only_posts: Iterable[str] = (),
    audited_reads: Mapping[str, AuditedRead] | None = None,
    security: SecuritySettings | None = None,
    probes: Sequence[Callable[[AsyncEngine], Any]] = (),
    summaries: Mapping[tuple[str, str], tuple[str, str]] | None = None,
) -> FastAPI:
    """`read_only_posts`: POST routes that change nothing (a stateless preview), kept out of
    the audit log of writes. `audited_reads`: GET route templates recorded in the audit log
    like writes (see AuditedRead)."""
    settings = settings or get_settings()
    security = security or get_security_settings()
    if problems := security.problems_for(settings.environment):
        raise RuntimeError(f"{name}: " + "; ".join(problems))
    public = frozenset(OPERATIONS_PATHS | SIGN_IN_PATHS | {DOCS_ASSETS_PATH} | set(public_paths))
    rules = {**(access_rules or {}), ("GET", "/v1/audit"): allow(scopes=("audit:read",),
                                                                  regions=False)}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        runtime = Runtime(
            name=name, settings=settings, engine=engine, sessions=make_sessionmaker(engine),
            outbox=Outbox(name), consumer_specs=consumers, probes=probes,
        )
        app.state.runtime = runtime
        app.state.sessions = runtime.sessions
        app.state.settings = settings
        if on_startup is not None:
            result = on_startup(runtime)
            if asyncio.iscoroutine(result):
                await result
        await runtime.start()
        if control.revocations is not None:
            await control.revocations.start()
        settle_startup_objects()
        try:
            yield
        finally:
            gc.unfreeze()  # what startup made may be garbage now (tests start many apps)
            if control.revocations is not None:
                await control.revocations.close()
            await runtime.shutdown()
            if (store := getattr(app.state, "rate_store", None)) is not None:
                await store.close()

    app = FastAPI(title=title or f"Canbao {name}", version="0.1.0", lifespan=lifespan,
                  dependencies=[Depends(enforce_access)], docs_url=None, redoc_url=None)
    install_error_handlers(app)
    document_errors(app, public)  # the OpenAPI document shows the errors as we answer them
    # Swagger UI and ReDoc from the package (no CDN), security schemes in the document
    install_docs(app, name, public, security.oidc_issuer and
                 security.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
                 summaries)
    control = AccessControl.from_settings(security, rules, public)
    if control.enabled and control.sessions is not None:
        control.revocations = SessionRevocations(
            lambda: security.session_database_url or settings.database_url,
            refresh_seconds=security.session_revocation_refresh_seconds)
    install_access_control(app, control)
    if control.sessions is not None:  # staff sign-in in the browser (shared/oidc.py)
        app.include_router(sign_in_router(SignIn(security, control.verifier, control.sessions,
                                                 control.revocations)))
    app.add_middleware(_AuditMiddleware, service=name,
                       public_paths=public | frozenset(read_only_posts),
                       audited_reads=audited_reads)
    # before observability, which stays outermost; buckets shared by the service's replicas
    install_limits(app, security, shared_in=(lambda: settings.database_url, name))
    app.add_middleware(_ObservabilityMiddleware, service=name, access_log=settings.access_log)

    @app.get("/healthz", tags=["operations"], response_model=Liveness)
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "service": name}

    @app.get("/readyz", tags=["operations"], response_model=None,
             responses={200: {"model": Readiness}, 503: {"model": Readiness,
                                                         "description": "未就绪 / not ready"}})
    async def readyz(request: Request) -> JSONResponse:
        checks = await request.app.state.runtime.readiness()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "service": name, "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in (*routers, _audit_router(name)):
        app.include_router(router)
    return app
