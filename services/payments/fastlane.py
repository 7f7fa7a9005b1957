"""The fast lane: the peak-season routes served as plain ASGI.

At the year-end peak, channels post thousands of webhooks and due-amount lookups per second.
Profiling one worker under that load showed about a fifth of its time in FastAPI's routing,
dependency solving and Request objects, none of which these routes need. The fast lane sits
innermost in the middleware stack, so correlation ids, latency metrics, the body-size and rate
limits and the audit rules apply to it exactly as to every route.

Nothing in it is written twice. It serves the routes of services/payments/hotroutes.py and
takes from their specifications, and from the FastAPI routes the app built from them:

- the path: the FastAPI route's own compiled template, in the app's routing order;
- the label: the FastAPI route object itself goes in `scope["route"]`, as routing puts it, so
  metrics (`path`), the audit log and the access rules (`path_format`) read the same template;
- the access check: `shared.auth.enforce_access`, the app-wide dependency of every route, for
  every route that is not public (the channels' webhooks are authenticated by signature);
- the parameters: the route's body model (`BillLookup`), validated strictly from the JSON, so
  that only what the route would take without coercion is served here. Anything else (a
  missing or out-of-range field, a body that is not plain JSON) is handed to FastAPI unchanged
  (the body it read is replayed), so validation errors are FastAPI's own;
- the answers: the same functions as the routes (`bills.router.answer_lookup`,
  `webhooks.router.accept_on`);
- errors: whatever they raise goes through the app's own exception handlers (the ones
  FastAPI's exception middleware applies to the routes), and what no handler takes goes up to
  the app's server-error handler, as a route's error does.

`CANBAO_PAYMENTS_FAST_LANE=false` turns it off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pydantic
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.payments.bills.router import NO_STORE, answer_lookup
from services.payments.deps import Payments, payments_of
from services.payments.hotroutes import HOT_ROUTES, HotRoute
from services.payments.webhooks.router import accept_on
from shared.auth import enforce_access

Handler = Callable[[Request, Exception], Awaitable[Any]]
_NO_STORE = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in NO_STORE.items()]


@dataclass(frozen=True)
class Lane:
    """One hot route as the fast lane serves it: its specification and the FastAPI route the
    app built from it."""

    spec: HotRoute
    route: APIRoute
    param: str | None  # the one path parameter of a templated route (`channel`)


@dataclass(frozen=True)
class Table:
    exact: dict[str, Lane]      # method + path -> lane, for templates without parameters
    templated: tuple[Lane, ...]  # the others, tried in routing order
    prefixes: tuple[str, ...]    # what a templated path starts with (cheap refusal)
    handlers: dict[Any, Handler]  # the app's exception handlers, as its exception middleware
    payments: Payments           # the app's parts (deps.py), as its routes are given them


def build_table(app: FastAPI) -> Table:
    """The lanes of `app`: each hot route's FastAPI route, found by method and template.
    Fails when a specification has no route (the two would diverge)."""
    found: list[Lane] = []
    wanted = {(r.method, r.path): r for r in HOT_ROUTES}
    for route in _api_routes(app.routes):
        for method in route.methods:
            spec = wanted.pop((method, route.path), None)
            if spec is not None:
                params = list(route.param_convertors)
                found.append(Lane(spec, route, params[0] if params else None))
    if wanted:
        raise RuntimeError(f"fast lane: no FastAPI route for {sorted(wanted)}")
    exact = {lane.spec.method + lane.spec.path: lane for lane in found if lane.param is None}
    templated = tuple(lane for lane in found if lane.param is not None)
    # as Starlette's exception middleware takes them: 500 and Exception belong to the server
    # error middleware, outermost, which every error not handled here reaches anyway
    handlers = {k: v for k, v in app.exception_handlers.items() if k not in (500, Exception)}
    return Table(exact, templated,
                 tuple(lane.spec.path.split("{", 1)[0] for lane in templated), handlers,
                 payments_of(app))


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """The app's API routes in routing order, included routers' too (newer FastAPI keeps an
    included router as one entry, its routes under `original_router`)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (router := getattr(route, "original_router", None)) is not None:
            yield from _api_routes(router.routes)


class FastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._table: Table | None = None

    def table(self, scope: Scope) -> Table:
        if self._table is None:
            self._table = build_table(scope["app"])
        return self._table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            method: str = scope["method"]
            table = self.table(scope)
            lane = table.exact.get(method + path)
            params: dict[str, str] = {}
            if lane is None and path.startswith(table.prefixes):
                for candidate in table.templated:
                    if candidate.spec.method != method:
                        continue
                    match = candidate.route.path_regex.match(path)
                    if match is not None:
                        lane, params = candidate, match.groupdict()
                        break
            if lane is not None:
                body = await _read_body(receive)
                if body is None:  # the client hung up before sending it all: nothing to answer
                    return
                query = _query(lane.spec, scope, body)
                if query is not False:
                    try:
                        await self._serve(table.payments, lane, scope, send, params, body,
                                          query)
                    except Exception as exc:
                        await _handle(table.handlers, exc, scope, receive, send)
                    return
                receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _serve(self, payments: Payments, lane: Lane, scope: Scope, send: Send,
                     params: dict[str, str], body: bytes, query: Any) -> None:
        scope["route"] = lane.route
        scope["path_params"] = params
        spec = lane.spec
        if not spec.public:
            await enforce_access(Request(scope))
        if spec.kind == "bill":
            answer = await answer_lookup(payments.bills(), query,
                                         scope["state"].get("principal"))
            await _respond(send, answer.status_code, answer.content_type, answer.body,
                           _NO_STORE)
            return
        answer = await accept_on(payments, spec, params.get(lane.param or ""),
                                 Headers(scope=scope), body)
        await _respond(send, answer.status_code, answer.content_type, answer.body)


def _query(spec: HotRoute, scope: Scope, body: bytes) -> Any:
    """The route's parameters when the request is exactly what the route's schema takes
    without coercion (plain JSON of the body model, strictly); False: FastAPI's to answer."""
    if spec.body is None:
        return None
    content_type = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return False
    try:
        return spec.body.model_validate_json(body, strict=True)
    except pydantic.ValidationError:
        return False


async def _handle(handlers: dict[Any, Handler], exc: Exception, scope: Scope,
                  receive: Receive, send: Send) -> None:
    """`exc` answered by the app's handler for it, as FastAPI answers a route's error; without
    one, it goes up to the server-error handler (a route's unexpected error does the same)."""
    handler = handlers.get(exc.status_code) if isinstance(exc, HTTPException) else None
    if handler is None:
        handler = next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
    if handler is None:
        raise exc
    response = await handler(Request(scope, receive), exc)
    if response is not None:
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read once, then whatever the client sends."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, content_type: str | None, body: bytes,
                   headers: list[tuple[bytes, bytes]] | None = None) -> None:
    raw: list[tuple[bytes, bytes]] = []
    if status not in (204, 304):  # as Starlette's Response: no body headers on these
        raw.append((b"content-length", str(len(body)).encode("latin-1")))
        if content_type:
            raw.append((b"content-type", content_type.encode("latin-1")))
    if headers:
        raw += headers
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
