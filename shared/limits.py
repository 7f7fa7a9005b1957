"""Request limits as plain ASGI middlewares (no Starlette BaseHTTPMiddleware: cheap on hot paths).

`BodySizeLimitMiddleware(app, max_body_bytes=..., max_upload_bytes=..., overrides={prefix: n})`
    Refuses a request body larger than its limit with 413
    `{"error": {"code": "request_too_large", "message": ..., "limit_bytes": n}}`: at once when
    Content-Length says so (the body is never read), otherwise while the body streams in
    (chunked uploads are counted as they arrive; the application then sees the client as
    gone and whatever it answers is dropped). The limit is the longest matching path-prefix
    override, else `max_upload_bytes` for `multipart/form-data`, else `max_body_bytes`.

`install_limits(app, security_settings)` adds both, configured from `SecuritySettings`.

`RateLimitMiddleware(app, limits={prefix: RateLimit(rate, burst)}, default=None, ...)`
    A token bucket per (path prefix, client). The client is the hash of the Authorization
    header when there is one (the token is not verified here: that is the auth layer's job,
    and hashing keeps tokens out of memory dumps), else the client IP from the ASGI scope
    (run uvicorn with `--proxy-headers --forwarded-allow-ips=<proxy>` behind a proxy so that
    this is the real client). A request with no token left is answered 429
    `{"error": {"code": "rate_limited", ...}}` with `Retry-After` (whole seconds).

    `store=PostgresRateStore(...)` keeps the buckets in PostgreSQL, shared by every replica
    and worker of the service, so that N replicas still give a client the configured rate
    (`install_limits` does this for a service app unless CANBAO_RATE_LIMIT_SHARED=false): an
    atomic upsert on an UNLOGGED table in the service's own schema
    (`<schema>.rate_limit_tokens`, created when first needed: it holds nothing worth keeping
    across a crash), with the database's clock, so replicas agree on time. A busy client's
    tokens are leased a few at a time (`lease_size`: at most a tenth of the burst and a tenth
    of a second's rate, at most 64), kept by the process for at most a second and then
    dropped unused, so a channel looking up thousands of bills a second costs one round trip
    per lease, not per request; a slow limit (a person's, a clerk's) leases one token at a
    time, exactly as before. Leasing never grants more than the shared bucket holds; it can
    only refuse early, by at most what the other replicas hold unused. Only requests on a
    limited path reach the store (the default limits only `/v1/bills`; channel webhooks are
    not limited and cost nothing more). When the database cannot answer, the request is
    counted in the process's own bucket instead (fail open to a per-replica limit, logged).

    Without a store, buckets live in the worker process; at most `max_clients` buckets are kept
    (LRU); an evicted client starts again with a full bucket.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson

from shared.plain_pool import LazyPool

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from shared.security_settings import SecuritySettings

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_EXEMPT = ("/healthz", "/readyz", "/metrics")

log = logging.getLogger(__name__)
STORE_RETRY_SECONDS = 5  # after the shared store failed, per-process buckets for this long


@dataclass(frozen=True)
class RateLimit:
    """`rate` requests per second on average, up to `burst` at once."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")


def longest_prefix(path: str, prefixes: Iterable[str]) -> str | None:
    best: str | None = None
    for prefix in prefixes:
        if path.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return best


async def send_json_error(send: Send, status: int, code: str, message: str,
                          headers: Iterable[tuple[bytes, bytes]] = (), **details: Any) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message, **details}})
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()), *headers],
    })
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int = 1024 * 1024,
                 max_upload_bytes: int = 50 * 1024 * 1024,
                 overrides: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.overrides = dict(overrides or {})

    def limit_for(self, path: str, content_type: bytes | None) -> int:
        prefix = longest_prefix(path, self.overrides)
        if prefix is not None:
            return self.overrides[prefix]
        if content_type is not None and content_type.lower().startswith(b"multipart/form-data"):
            return self.max_upload_bytes
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"], _header(scope, b"content-type"))
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _too_large(send, limit)
            return

        seen = 0
        started = False  # the application began its response
        refused = False  # we answered 413 ourselves; drop what the application sends

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await _too_large(send, limit)
                    # The application sees a client that went away: Starlette raises
                    # ClientDisconnect, and whatever it answers then is dropped below.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise


async def _too_large(send: Send, limit: int) -> None:
    await send_json_error(send, 413, "request_too_large",
                          f"request body larger than {limit} bytes", limit_bytes=limit)


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated


_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresRateStore:
    """Token buckets in PostgreSQL, shared by every process that uses the same database and
    schema. `dsn` may be a callable (the service's database URL, known once it runs)."""

    TABLE = "rate_limit_tokens"
    CLEANUP_EVERY = 1000  # takes between deletions of buckets idle for an hour (they are full)
    LEASE_SECONDS = 1.0   # leased tokens not used by then are dropped
    MAX_LEASES = 10_000   # buckets with tokens held by this process (the idle ones are dropped)

    def __init__(self, dsn: str | Callable[[], str], schema: str, *, pool_size: int = 4) -> None:
        if not _SCHEMA.fullmatch(schema):
            raise ValueError(f"not a schema name: {schema!r}")
        self.schema = schema
        self._takes = 0
        self._leases: dict[str, tuple[int, float]] = {}  # bucket -> (tokens held, valid until)
        self._fetching: dict[str, asyncio.Future[None]] = {}  # bucket -> its lease in flight
        table = f"{schema}.{self.TABLE}"
        create = (f"CREATE SCHEMA IF NOT EXISTS {schema}; "
                  f"CREATE UNLOGGED TABLE IF NOT EXISTS {table} ("
                  "bucket text PRIMARY KEY, tokens double precision NOT NULL, "
                  "granted integer NOT NULL, updated_at timestamptz NOT NULL); "
                  # the table before leases (stop 21) held whole buckets; nothing in it is
                  # worth keeping and nothing reads it
                  f"DROP TABLE IF EXISTS {schema}.rate_limit_buckets")
        self._pool = LazyPool(dsn, size=pool_size, setup=create)
        # $2 burst, $3 rate, $4 tokens wanted (1 <= $4 <= burst): grants what the bucket holds,
        # up to $4, or nothing
        level = ("LEAST($2::float8, b.tokens + "
                 "EXTRACT(EPOCH FROM now() - b.updated_at)::float8 * $3::float8)")
        granted = f"LEAST($4::int, floor({level}))::int"
        self._take = (
            f"INSERT INTO {table} AS b (bucket, tokens, granted, updated_at) "
            "VALUES ($1, $2::float8 - $4::int, $4::int, now()) "
            f"ON CONFLICT (bucket) DO UPDATE SET "
            f"tokens = {level} - {granted}, granted = {granted}, updated_at = now() "
            "RETURNING granted, tokens")
        self._cleanup = f"DELETE FROM {table} WHERE updated_at < now() - interval '1 hour'"

    @staticmethod
    def lease_size(limit: RateLimit) -> int:
        """Tokens taken from the shared bucket at once: a tenth of the burst and of a second's
        rate, at most 64, at least one."""
        return max(1, min(64, limit.burst // 10, int(limit.rate / 10)))

    async def take(self, prefix: str, limit: RateLimit, client: bytes) -> float:
        """Take one token; 0 when allowed, else the seconds until one is available."""
        bucket = prefix + "|" + client.hex()
        while True:
            now = time.monotonic()
            held = self._leases.get(bucket)
            if held is not None and held[0] > 0 and held[1] > now:
                self._leases[bucket] = (held[0] - 1, held[1])
                return 0.0
            fetching = self._fetching.get(bucket)
            if fetching is None:
                break
            # one lease in flight per bucket: concurrent requests wait for it and share it
            # (each taking its own lease would drain the bucket in leases most of them
            # cannot use), then look again
            await asyncio.shield(fetching)
        done = asyncio.get_running_loop().create_future()
        self._fetching[bucket] = done
        try:
            row = await self._lease(bucket, limit)
        finally:
            del self._fetching[bucket]
            done.set_result(None)
        assert row is not None
        granted = int(row["granted"])
        if granted < 1:
            return (1.0 - float(row["tokens"])) / limit.rate
        if granted > 1:  # one for this request, the rest held for the next ones
            self._leases[bucket] = (granted - 1, now + self.LEASE_SECONDS)
            if len(self._leases) > self.MAX_LEASES:
                self._leases = {k: v for k, v in self._leases.items() if v[1] > now}
        return 0.0

    async def _lease(self, bucket: str, limit: RateLimit) -> asyncpg.Record | None:
        pool = await self._pool.get()
        row = await pool.fetchrow(self._take, bucket, float(limit.burst), float(limit.rate),
                                  self.lease_size(limit))
        self._takes += 1
        if self._takes % self.CLEANUP_EVERY == 0:
            await pool.execute(self._cleanup)
        return row

    async def close(self) -> None:
        await self._pool.close()


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limits: Mapping[str, RateLimit] | None = None,
                 default: RateLimit | None = None, exempt: Iterable[str] = DEFAULT_EXEMPT,
                 max_clients: int = 100_000,
                 clock: Callable[[], float] = time.monotonic,
                 store: PostgresRateStore | None = None) -> None:
        self.app = app
        self.store = store
        self._store_down_until = 0.0
        self.limits = dict(limits or {})
        self.default = default
        self.exempt = tuple(exempt)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[tuple[str, bytes], _Bucket] = OrderedDict()

    def _limit_for(self, path: str) -> tuple[str, RateLimit] | None:
        if path.startswith(self.exempt):
            return None
        prefix = longest_prefix(path, self.limits)
        if prefix is not None:
            return prefix, self.limits[prefix]
        return ("*", self.default) if self.default is not None else None

    @staticmethod
    def client_key(scope: Scope) -> bytes:
        authorization = _header(scope, b"authorization")
        if authorization:
            return b"t" + hashlib.blake2b(authorization, digest_size=16).digest()
        client = scope.get("client")
        return b"i" + (client[0].encode() if client else b"?")

    def take(self, prefix: str, limit: RateLimit, client: bytes) -> float:
        """Take one token; return 0 when allowed, else the seconds until one is available."""
        now = self.clock()
        key = (prefix, client)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(limit.burst), now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(limit.burst),
                                bucket.tokens + (now - bucket.updated) * limit.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / limit.rate

    async def _take_shared(self, prefix: str, limit: RateLimit, client: bytes) -> float:
        if self.store is not None and time.monotonic() >= self._store_down_until:
            try:
                return await self.store.take(prefix, limit, client)
            except Exception as exc:  # the database is away: this process's bucket decides
                self._store_down_until = time.monotonic() + STORE_RETRY_SECONDS
                log.warning("shared rate limit unavailable (%s); this process's buckets decide "
                            "for %d s", type(exc).__name__, STORE_RETRY_SECONDS)
        return self.take(prefix, limit, client)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = self._limit_for(scope["path"])
        if found is not None:
            wait = await self._take_shared(found[0], found[1], self.client_key(scope))
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                await send_json_error(
                    send, 429, "rate_limited",
                    f"too many requests; retry in {retry_after} s",
                    headers=[(b"retry-after", str(retry_after).encode())],
                    retry_after_seconds=retry_after,
                )
                return
        await self.app(scope, receive, send)


def install_limits(app: Starlette, settings: SecuritySettings, *,
                   shared_in: tuple[Callable[[], str], str] | None = None) -> None:
    """Add both middlewares from settings: the rate limiter outside the size limit. Call it
    before adding the observability middleware so that one stays outermost (Starlette puts
    the middleware added last on the outside) and 413/429 answers get correlation ids too.
    `shared_in=(database URL getter, schema)` keeps the buckets in that database (every
    replica shares them) unless CANBAO_RATE_LIMIT_SHARED=false."""
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes,
                       max_upload_bytes=settings.max_upload_bytes, overrides=settings.body_limits)
    if settings.rate_limit_enabled:
        store = None
        if shared_in is not None and settings.rate_limit_shared:
            store = PostgresRateStore(*shared_in)
            app.state.rate_store = store
        app.add_middleware(RateLimitMiddleware, limits=settings.rate_limits,
                           default=settings.rate_limit_default, store=store)
