"""Channel webhooks: verify first, store durably, answer in the channel's own words."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.payments.channels import ChannelAdapter, ChannelRejected, ChannelResponse
from shared.observability import PAYMENTS_BY_CHANNEL, WEBHOOK_SIGNATURE_FAILURES

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

# No channel to answer in its own words: the service's own error body (shared/errors.py).
_UNKNOWN_CHANNEL = ChannelResponse(
    404, "application/json",
    '{"error":{"code":"unknown_channel","message":"未配置该支付渠道"}}'.encode())


def _answer(r: ChannelResponse) -> Response:
    return Response(r.body, status_code=r.status_code, media_type=r.content_type)


async def accept(state: Any, channel: str, headers: Mapping[str, str],
                 body: bytes) -> ChannelResponse:
    """Verify, store durably, and say what to answer the channel. Shared by the routes below
    and by the fast lane (services/payments/fastlane.py), which serves the same path."""
    adapter: ChannelAdapter | None = state.adapters.get(channel)
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
    try:
        await state.intake.store(notification, headers, body)
    except Exception as exc:
        # Not stored: the channel must retry, so it gets its failure answer.
        log.exception("webhook %s %s could not be stored", channel, notification.event_id)
        return adapter.failure_response(exc)
    PAYMENTS_BY_CHANNEL.labels(channel, str(notification.kind)).inc()
    return adapter.success_response()


async def receive(request: Request, channel: str) -> Response:
    return _answer(await accept(request.app.state, channel, request.headers,
                                await request.body()))


@router.post("/wechatpay", include_in_schema=True)
async def wechatpay(request: Request) -> Response:
    return await receive(request, "wechatpay")


@router.post("/alipay")
async def alipay(request: Request) -> Response:
    return await receive(request, "alipay")


@router.post("/{channel}", summary="Standard Webhooks channels (banks, POS, tax halls)")
async def standard(channel: str, request: Request) -> Response:
    if channel in ("wechatpay", "alipay"):
        return _answer(_UNKNOWN_CHANNEL)
    return await receive(request, channel)
