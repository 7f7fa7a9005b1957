"""The fast lane: the two peak-season routes served as plain ASGI.

At the year-end peak, channels post thousands of webhooks and due-amount lookups per second.
Profiling one worker under that load showed about a fifth of its time in FastAPI's routing,
dependency solving and Request objects, none of which these two routes need. The fast lane sits
innermost in the middleware stack, so correlation ids, latency metrics, the body-size and rate
limits and the audit rules apply to it exactly as to every route. It serves:

    POST /v1/webhooks/{channel}   -> services.payments.webhooks.router.accept
    POST /v1/bills/lookup         -> services.payments.bills.service.BillService

with the same functions, access rules and answers as the documented FastAPI routes (which stay
in the OpenAPI document). Whatever it does not recognise as a well-formed call, a bill lookup
with a missing or out-of-range field or a body that is not plain JSON for instance, it hands to
FastAPI unchanged (the body it read is replayed), so error answers are FastAPI's own.
`CANBAO_PAYMENTS_FAST_LANE=false` turns it off.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
from starlette.datastructures import URL, Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.payments.bills.service import BillService
from services.payments.webhooks.router import accept
from shared.auth import SESSION_COOKIE, TOKEN_COOKIE, Unauthorized, enforce
from shared.errors import DomainError, error_body

WEBHOOKS = "/v1/webhooks/"
BILLS = "/v1/bills/lookup"
_BILL_KEYS = frozenset({"id_number", "plan_year", "on"})
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class RouteLabel:
    """Stands in for the FastAPI route in `scope["route"]`: its template, as metrics (`path`)
    and the audit log (`path_format`) read it."""

    path: str

    @property
    def path_format(self) -> str:
        return self.path


_LABELS = {p: RouteLabel(p) for p in (BILLS, WEBHOOKS + "wechatpay", WEBHOOKS + "alipay",
                                      WEBHOOKS + "{channel}")}


class FastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            method: str = scope["method"]
            if method == "POST" and path.startswith(WEBHOOKS):
                channel = path[len(WEBHOOKS):]
                if channel and "/" not in channel:
                    await self._webhook(scope, receive, send, channel)
                    return
            elif method == "POST" and path == BILLS:
                body = await _read_body(receive)
                if body is None:
                    return
                query = _bill_body(Headers(scope=scope), body)
                if query is not None:
                    await self._bill(scope, send, *query)
                    return
                receive = _replay(body, receive)
        await self.app(scope, receive, send)

    @staticmethod
    def _route(scope: Scope) -> RouteLabel:
        """The route template this call has in FastAPI (for metrics, audit and access rules)."""
        path = scope["path"]
        return _LABELS.get(path) or _LABELS[WEBHOOKS + "{channel}"]

    async def _webhook(self, scope: Scope, receive: Receive, send: Send, channel: str) -> None:
        scope["route"] = self._route(scope)
        body = await _read_body(receive)
        if body is None:  # the channel hung up before sending it all: nothing to answer
            return
        state = scope["app"].state
        answer = await accept(state, channel, Headers(scope=scope), body)
        await _respond(send, answer.status_code, answer.content_type, answer.body)

    async def _bill(self, scope: Scope, send: Send, id_number: str, plan_year: int,
                    on: dt.date | None) -> None:
        route = scope["route"] = self._route(scope)
        state = scope["app"].state
        try:
            await _enforce(scope, state.access_control, route.path_format)
            bill = await BillService(state.pg, state.vault, state.coverage).lookup(
                id_number, plan_year, scope["state"].get("principal"), on)
        except DomainError as exc:
            extra = exc.headers if isinstance(exc, Unauthorized) else {}
            await _respond(send, exc.status_code, "application/json",
                           orjson.dumps(error_body(exc.code, exc.message, **exc.details)),
                           extra)
            return
        await _respond(send, 200, "application/json", bill.json(), {"cache-control": "no-store"})


async def _enforce(scope: Scope, control: Any, template: str) -> None:
    """shared.auth.enforce_access for a plain ASGI call: the same checks, the same inputs."""
    headers = Headers(scope=scope)
    cookies = cookie_parser(headers.get("cookie", ""))
    authorization, cookie_token = headers.get("authorization"), cookies.get(TOKEN_COOKIE)
    verifier = control.verifier
    if verifier is not None and verifier.jwks is not None and template not in control.public_paths:
        token = authorization.partition(" ")[2].strip() if authorization else cookie_token
        if token and verifier.needs_fetch(token):
            await anyio.to_thread.run_sync(verifier.fetch_keys_for, token)
    url = URL(scope=scope)
    enforce(control, scope.setdefault("state", {}), "POST", template, authorization,
            cookie_token, {}, {}, session_cookie=cookies.get(SESSION_COOKIE),
            origin=headers.get("origin"), referer=headers.get("referer"),
            own_origin=f"{url.scheme}://{url.netloc}")


def _bill_body(headers: Headers, body: bytes) -> tuple[str, int, dt.date | None] | None:
    """(id_number, plan_year, on) when the body is plain JSON exactly as the route's schema
    takes it without coercion; anything else is FastAPI's to answer."""
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not {"id_number", "plan_year"} <= data.keys() \
            or not data.keys() <= _BILL_KEYS:
        return None
    id_number, plan_year, on = data["id_number"], data["plan_year"], data.get("on")
    if not isinstance(id_number, str) or not (15 <= len(id_number) <= 18):
        return None
    if type(plan_year) is not int or not 2000 <= plan_year <= 2100:
        return None
    day = None
    if on is not None:
        if not isinstance(on, str) or not _DAY.fullmatch(on):
            return None
        try:
            day = dt.date.fromisoformat(on)
        except ValueError:
            return None
    return id_number, plan_year, day


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
                   headers: dict[str, str] | None = None) -> None:
    raw: list[tuple[bytes, bytes]] = []
    if status not in (204, 304):  # as Starlette's Response: no body headers on these
        raw.append((b"content-length", str(len(body)).encode("latin-1")))
        if content_type:
            raw.append((b"content-type", content_type.encode("latin-1")))
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
