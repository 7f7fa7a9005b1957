"""The fast lane: the two peak-season routes served as plain ASGI.

At the year-end peak, channels post thousands of webhooks and due-amount lookups per second.
Profiling one worker under that load showed about a fifth of its time in FastAPI's routing,
dependency solving and Request objects, none of which these two routes need. The fast lane sits
innermost in the middleware stack, so correlation ids, latency metrics, the body-size and rate
limits and the audit rules apply to it exactly as to every route. It serves:

    POST /v1/webhooks/{channel}   -> services.payments.webhooks.router.accept
    GET  /v1/bills                -> services.payments.bills.service.BillService

with the same functions, access rules and answers as the documented FastAPI routes (which stay
in the OpenAPI document). Whatever it does not recognise as a well-formed call, a bill lookup
with a missing or out-of-range parameter for instance, it hands to FastAPI unchanged, so error
answers are FastAPI's own. `CANBAO_PAYMENTS_FAST_LANE=false` turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

import orjson
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from services.payments.bills.service import BillService
from services.payments.webhooks.router import accept
from shared.auth import TOKEN_COOKIE, Unauthorized, enforce
from shared.errors import DomainError, error_body

WEBHOOKS = "/v1/webhooks/"
BILLS = "/v1/bills"
_BILL_PARAMS = frozenset({"id_number", "plan_year"})


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
            elif method == "GET" and path == BILLS:
                query = _bill_query(scope["query_string"])
                if query is not None:
                    await self._bill(scope, send, *query)
                    return
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

    async def _bill(self, scope: Scope, send: Send, id_number: str, plan_year: int) -> None:
        route = scope["route"] = self._route(scope)
        state = scope["app"].state
        try:
            headers = Headers(scope=scope)
            enforce(state.access_control, scope.setdefault("state", {}), "GET",
                    route.path_format, headers.get("authorization"),
                    cookie_parser(headers.get("cookie", "")).get(TOKEN_COOKIE), {},
                    {"id_number": id_number, "plan_year": str(plan_year)})
            bill = await BillService(state.pg, state.vault).lookup(
                id_number, plan_year, scope["state"].get("principal"))
        except DomainError as exc:
            extra = exc.headers if isinstance(exc, Unauthorized) else {}
            await _respond(send, exc.status_code, "application/json",
                           orjson.dumps(error_body(exc.code, exc.message, **exc.details)),
                           extra)
            return
        await _respond(send, 200, "application/json", bill.json(), {"cache-control": "no-store"})


def _bill_query(query_string: bytes) -> tuple[str, int] | None:
    """(id_number, plan_year) when the query is exactly what the route's schema accepts."""
    try:
        pairs = parse_qsl(query_string.decode("latin-1"), strict_parsing=True)
    except ValueError:
        return None
    params = dict(pairs)
    if len(pairs) != 2 or params.keys() != _BILL_PARAMS:
        return None
    id_number, year = params["id_number"], params["plan_year"]
    if not (15 <= len(id_number) <= 18 and id_number.isascii()) or not year.isdecimal():
        return None
    plan_year = int(year)
    return (id_number, plan_year) if 2000 <= plan_year <= 2100 and len(year) == 4 else None


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
