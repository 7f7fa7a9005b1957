"""Channel webhooks: verify first, store durably, answer in the channel's own words."""

from __future__ import annotations

import datetime as dt
import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.payments.channels import ChannelAdapter, ChannelRejected, ChannelResponse
from services.payments.webhooks.ingest import store

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

_UNKNOWN_CHANNEL = ChannelResponse(404, "application/json",
                                   b'{"code":"unknown_channel","message":"no such channel"}')


def _answer(r: ChannelResponse) -> Response:
    return Response(r.body, status_code=r.status_code, media_type=r.content_type)


async def receive(request: Request, channel: str) -> Response:
    adapter: ChannelAdapter | None = request.app.state.adapters.get(channel)
    if adapter is None:
        log.warning("webhook for unconfigured channel %r refused", channel[:40])
        return _answer(_UNKNOWN_CHANNEL)
    body = await request.body()
    headers = request.headers
    try:
        notification = adapter.verify_and_parse(headers, body, dt.datetime.now(dt.UTC))
    except ChannelRejected as exc:
        log.warning("webhook %s refused: %s (%s)", channel, exc.code, exc.reason,
                    extra={"channel": channel, "code": exc.code})
        return _answer(adapter.failure_response(exc))
    try:
        await store(request.app.state.pg, notification, headers, body)
    except Exception as exc:
        # Not stored: the channel must retry, so it gets its failure answer.
        log.exception("webhook %s %s could not be stored", channel, notification.event_id)
        return _answer(adapter.failure_response(exc))
    return _answer(adapter.success_response())


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
