"""A payment notification as each channel sends it, signed with the development keys
(`canbao pay`): WeChat Pay APIv3 (encrypted resource, platform signature headers), Alipay's
form-encoded RSA2 notify, and Standard Webhooks for the bank."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from services.payments.channels.standard_webhooks import signed_headers
from shared.money import fen_to_yuan

from .dev import DevChannels
from .testing import (
    alipay_form,
    alipay_payment_params,
    alipay_sign,
    sign_notification,
    wechat_transaction,
)

NAMES = {"wechatpay": "微信支付 WeChat Pay APIv3", "alipay": "支付宝 Alipay",
         "bank": "银行 bank (Standard Webhooks)"}


@dataclass(frozen=True)
class Outgoing:
    kind: str  # wechatpay | alipay | bank
    path: str  # /v1/webhooks/<channel>
    headers: dict[str, str]
    body: bytes
    channel_txn_id: str


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


def payment_notification(dev: DevChannels, kind: str, *, order_no: str, amount_fen: int,
                         paid_at: datetime, now: datetime) -> Outgoing:
    """A 'paid' notification for `order_no` (`amount_fen`, paid at `paid_at`), sent `now`."""
    account = dev.channel(kind)
    stamp = now.strftime("%Y%m%d")
    if kind == "wechatpay":
        txn = f"4200{_digits(6)}{stamp}{_digits(10)}"
        headers, body = sign_notification(
            platform_key=dev.wechat_key, serial=dev.wechat_serial, apiv3_key=dev.apiv3_key,
            event_type="TRANSACTION.SUCCESS", timestamp=now,
            resource=wechat_transaction(order_no, amount_fen, paid_at, transaction_id=txn,
                                        mchid=account["mchid"], appid=account["appid"]))
        return Outgoing(kind, account["webhook_path"], headers, body, txn)
    if kind == "alipay":
        txn = f"{stamp}2200{_digits(18)}"
        params = alipay_sign(alipay_payment_params(
            app_id=account["app_id"], seller_id=account["seller_id"], out_trade_no=order_no,
            total_amount=fen_to_yuan(amount_fen), paid_at=paid_at, notify_time=now,
            trade_no=txn, notify_id=f"{stamp}{_digits(24)}"), dev.alipay_key)
        return Outgoing(kind, account["webhook_path"],
                        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                        alipay_form(params), txn)
    if kind == "bank":
        txn = f"DEV{stamp}{_digits(12)}"
        body = json.dumps({
            "type": "payment.succeeded", "timestamp": now.isoformat(),
            "data": {"order_no": order_no, "channel_txn_id": txn, "amount_fen": amount_fen,
                     "paid_at": paid_at.isoformat()}}, separators=(",", ":")).encode()
        headers = signed_headers(dev.bank_secret, f"msg_{secrets.token_hex(12)}",
                                 int(now.timestamp()), body)
        return Outgoing(kind, account["webhook_path"],
                        {**headers, "Content-Type": "application/json"}, body, txn)
    raise ValueError(f"unknown channel kind {kind!r}")
