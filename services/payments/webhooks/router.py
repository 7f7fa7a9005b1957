"""Channel webhooks: verify first, store durably, answer in the channel's own words. The routes
are built from their specifications (services/payments/hotroutes.py), which the fast lane
serves as well."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.payments.channels import ChannelAdapter, ChannelRejected, ChannelResponse
from services.payments.deps import Payments, PaymentsDep
from services.payments.hotroutes import OWN_ROUTE_CHANNELS, WEBHOOKS, HotRoute
from shared.errors import ErrorBody
from shared.observability import PAYMENTS_BY_CHANNEL, WEBHOOK_SIGNATURE_FAILURES

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])

# No channel to answer in its own words: the service's own error body (shared/errors.py).
_UNKNOWN_CHANNEL = ChannelResponse(
    404, "application/json",
    '{"error":{"code":"unknown_channel","message":"未配置该支付渠道"}}'.encode())


class ChannelFailure(BaseModel):
    """A refused or unstored notification, in the channel's terms: any non-2xx answer makes
    the channel send it again."""

    code: str = Field(description="signature_invalid, timestamp_out_of_tolerance, "
                      "payload_invalid, FAIL (WeChat Pay), internal_error, ...")
    message: str


def _answer(r: ChannelResponse) -> Response:
    return Response(r.body, status_code=r.status_code, media_type=r.content_type)


async def accept(payments: Payments, channel: str, headers: Mapping[str, str],
                 body: bytes) -> ChannelResponse:
    """Verify, store durably, and say what to answer the channel. Shared by the routes below
    and by the fast lane (services/payments/fastlane.py), which serves the same paths."""
    adapter: ChannelAdapter | None = payments.adapters.get(channel)
    if adapter is None:
        log.warning("webhook for unconfigured channel %r refused", channel[:40])
        return _UNKNOWN_CHANNEL
    try:
        notification = adapter.verify_and_parse(headers, body, dt.datetime.now(dt.UTC))
    except ChannelRejected as exc:
        log.warning("webhook %s refused: %s (%s)", channel, exc.code, exc.reason,
                    extra={"channel": channel, "code": exc.code})
        WEBHOOK_SIGNATURE_FAILURES.labels(channel, exc.code).inc()
        return adapter.failure_response(exc)
    assert payments.intake is not None, "the app is not running"
    try:
        await payments.intake.store(notification, headers, body)
    except Exception as exc:
        # Not stored: the channel must retry, so it gets its failure answer.
        log.exception("webhook %s %s could not be stored", channel, notification.event_id)
        return adapter.failure_response(exc)
    PAYMENTS_BY_CHANNEL.labels(channel, str(notification.kind)).inc()
    return adapter.success_response()


async def accept_on(payments: Payments, route: HotRoute, path_channel: str | None,
                    headers: Mapping[str, str], body: bytes) -> ChannelResponse:
    """A webhook on `route`: its own channel, or the one the path names (never one that has
    a route of its own)."""
    channel = route.channel or path_channel or ""
    if route.channel is None and channel in OWN_ROUTE_CHANNELS:
        return _UNKNOWN_CHANNEL
    return await accept(payments, channel, headers, body)


_FAILURE = {"model": ChannelFailure, "description": "refused (401 signature or time, 400 "
            "content): the channel sends it again"}
_UNSTORED = {"model": ChannelFailure, "description": "not stored (500): the channel sends it "
             "again"}
_TEXT = {"text/plain": {"schema": {"type": "string"}}}
# the refusals are documented as ranges: in the channels' formats, not our ErrorBody
_ACKNOWLEDGEMENTS: dict[str, dict[int | str, dict[str, Any]]] = {
    "wechatpay": {204: {"description": "stored (or a replay of a stored notification): "
                        "WeChat Pay reads only the status"},
                  "4XX": _FAILURE, "5XX": _UNSTORED},
    "alipay": {200: {"description": "`success` (stored, or a replay): anything else makes "
                     "Alipay retry", "content": _TEXT},
               "4XX": {"description": "`fail`: the notify is malformed (400) or its signature "
                       "or time is wrong (401)", "content": _TEXT},
               "5XX": {"description": "`fail`: not stored, Alipay retries", "content": _TEXT}},
    "standard": {204: {"description": "stored (or a replay of a stored notification)"},
                 "4XX": _FAILURE, "5XX": _UNSTORED},
}
_NOT_CONFIGURED = {"model": ErrorBody,
                   "description": "`unknown_channel`: that channel is not configured"}
for _ack in _ACKNOWLEDGEMENTS.values():
    _ack[404] = _NOT_CONFIGURED
_SUMMARIES = {"standard": "Standard Webhooks channels (banks, POS, tax halls)",
              "wechatpay": "WeChat Pay APIv3 payment and refund notifications",
              "alipay": "Alipay notifications (form-encoded, RSA2)"}


def _endpoint(route: HotRoute) -> Callable[..., Coroutine[Any, Any, Response]]:
    if route.channel is not None:
        async def own(request: Request, payments: PaymentsDep) -> Response:
            return _answer(await accept_on(payments, route, None, request.headers,
                                           await request.body()))
        return own

    async def any_channel(channel: str, request: Request, payments: PaymentsDep) -> Response:
        return _answer(await accept_on(payments, route, channel, request.headers,
                                       await request.body()))
    return any_channel


for _route in WEBHOOKS:
    _ack = _ACKNOWLEDGEMENTS[_route.name]
    router.add_api_route(
        _route.path, _endpoint(_route), methods=[_route.method], name=_route.name,
        response_model=None, status_code=min(s for s in _ack if isinstance(s, int)),
        responses=_ack, summary=_SUMMARIES[_route.name],
        response_class=Response)
