"""Alipay asynchronous notifications (异步通知), form-encoded, public-key (not certificate) mode.

Signature content, as Alipay's notification docs describe ("除去 sign、sign_type 两个参数外，
凡是通知返回回来的参数皆是待验签的参数") and as the official SDKs build it
(alipay-sdk-python `get_sign_content`, alipay-sdk-java `AlipaySignature.getSignCheckContentV1`):
every received parameter except `sign` and `sign_type`, URL-decoded, sorted by key, joined as
`k=v` with `&`. Blank values are KEPT (`k=`), exactly like both SDKs; Alipay itself never sends
blank parameters in practice, so keeping them only matters if one appears, and then we sign-check
what was actually received. The content is encoded in the notification charset and checked with
SHA256withRSA (PKCS#1 v1.5); `sign` is base64.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from ._support import china_local_time, header, require_aware, yuan
from .base import (
    STATUS_CLOSED,
    STATUS_PENDING,
    STATUS_SUCCEEDED,
    ChannelResponse,
    NotificationKind,
    PayloadInvalid,
    PaymentNotification,
    RefundTerms,
    SignatureInvalid,
    TimestampOutOfTolerance,
    rejection_status,
)

CHANNEL = "alipay"
SIGNED_EXCLUDED = frozenset({"sign", "sign_type"})
REQUIRED = (
    "notify_id",
    "notify_time",
    "notify_type",
    "app_id",
    "seller_id",
    "trade_no",
    "out_trade_no",
    "trade_status",
    "total_amount",
)


def sign_content(params: Mapping[str, str]) -> str:
    """The string Alipay signs: all params but sign/sign_type, sorted, `k=v&...`, blanks kept."""
    return "&".join(f"{key}={params[key]}" for key in sorted(params) if key not in SIGNED_EXCLUDED)


def load_alipay_public_key(key: str | bytes) -> RSAPublicKey:
    """The 支付宝公钥 as a PEM, or as the bare base64 the Alipay console shows."""
    text = key.decode("ascii") if isinstance(key, bytes) else key
    text = text.strip()
    if "-----BEGIN" not in text:
        text = f"-----BEGIN PUBLIC KEY-----\n{text}\n-----END PUBLIC KEY-----\n"
    loaded = load_pem_public_key(text.encode("ascii"))
    if not isinstance(loaded, RSAPublicKey):
        raise ValueError("the Alipay public key must be an RSA key")
    return loaded


@dataclass(frozen=True)
class AlipayConfig:
    app_id: str  # our application id: notifications for other apps are refused
    seller_id: str  # our merchant PID (2088...)
    alipay_public_key: str | bytes  # 支付宝公钥 (not the app's own public key)
    # Alipay retries a notification for about 25 h (4m,10m,10m,1h,2h,6h,15h). Older ones, or
    # ones stamped in the future, are replays or clock trouble.
    max_age: timedelta = timedelta(hours=48)
    future_tolerance: timedelta = timedelta(seconds=300)
    channel: str = CHANNEL


@dataclass
class AlipayAdapter:
    config: AlipayConfig
    _key: RSAPublicKey = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._key = load_alipay_public_key(self.config.alipay_public_key)

    @property
    def channel(self) -> str:
        return self.config.channel

    def verify_and_parse(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> PaymentNotification:
        params = parse_form(body, _content_charset(headers))
        self._verify(params)
        for key in REQUIRED:
            if not params.get(key):
                raise PayloadInvalid(f"{key} is missing", "missing_field")
        if params["app_id"] != self.config.app_id:
            raise PayloadInvalid(f"app_id {params['app_id']!r} is not ours", "wrong_app_id")
        if params["seller_id"] != self.config.seller_id:
            raise PayloadInvalid(
                f"seller_id {params['seller_id']!r} is not ours", "wrong_seller_id"
            )
        if params["notify_type"] != "trade_status_sync":
            raise PayloadInvalid(
                f"notify_type {params['notify_type']!r} is not handled", "unsupported_event"
            )
        self._check_age(china_local_time(params["notify_time"], "notify_time"), now)
        return self._normalize(params)

    def success_response(self) -> ChannelResponse:
        return ChannelResponse(200, "text/plain; charset=utf-8", b"success")

    def failure_response(self, error: BaseException) -> ChannelResponse:
        # Anything but the literal "success" makes Alipay retry; the status is for our logs.
        return ChannelResponse(rejection_status(error), "text/plain; charset=utf-8", b"fail")

    def _verify(self, params: Mapping[str, str]) -> None:
        sign_type = params.get("sign_type")
        if sign_type != "RSA2":
            raise SignatureInvalid(f"sign_type {sign_type!r} is not RSA2", "bad_sign_type")
        sign = params.get("sign")
        if not sign:
            raise SignatureInvalid("sign is missing", "missing_field")
        try:
            signature = base64.b64decode(sign, validate=True)
        except binascii.Error as exc:
            raise SignatureInvalid("sign is not base64") from exc
        charset = params.get("charset") or "utf-8"
        try:
            message = sign_content(params).encode(charset)
        except (LookupError, UnicodeEncodeError) as exc:
            raise PayloadInvalid(f"charset {charset!r} is unusable", "bad_charset") from exc
        try:
            self._key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise SignatureInvalid("sign does not match the Alipay public key") from exc

    def _check_age(self, sent_at: datetime, now: datetime) -> None:
        age = require_aware(now) - sent_at
        if age > self.config.max_age or -age > self.config.future_tolerance:
            raise TimestampOutOfTolerance(f"notify_time is {int(age.total_seconds())} s from now")

    def _normalize(self, params: Mapping[str, str]) -> PaymentNotification:
        trade_status = params["trade_status"]
        total_fen = yuan(params["total_amount"], "total_amount")
        refund_fen = yuan(params["refund_fee"], "refund_fee") if params.get("refund_fee") else 0
        kind: NotificationKind
        if trade_status in ("TRADE_SUCCESS", "TRADE_CLOSED") and refund_fen > 0:
            # A (partial) refund: TRADE_SUCCESS + refund_fee. A full refund closes the trade:
            # TRADE_CLOSED + refund_fee. Both are refunds of money received, not an unpaid
            # order being closed (nor a reversal: the money goes back through Alipay's refund
            # and the bill lists it as 退款). refund_fee is the CUMULATIVE refunded amount of
            # the trade, so amount_fen is that running total: the processor books the
            # difference from what it already booked for the trade.
            kind, status, amount, when = "refund", STATUS_SUCCEEDED, refund_fen, "gmt_refund"
        elif trade_status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            kind, status, amount, when = "payment", STATUS_SUCCEEDED, total_fen, "gmt_payment"
        elif trade_status == "TRADE_CLOSED":
            kind, status, amount, when = "close", STATUS_CLOSED, total_fen, "gmt_close"
        elif trade_status == "WAIT_BUYER_PAY":
            kind, status, amount, when = "payment", STATUS_PENDING, total_fen, "gmt_create"
        else:
            raise PayloadInvalid(f"trade_status {trade_status!r} is not handled", "bad_status")
        if kind != "close" and amount <= 0:
            raise PayloadInvalid("amount must be positive", "bad_amount")
        if kind == "refund" and refund_fen > total_fen:
            raise PayloadInvalid("refund_fee exceeds total_amount", "bad_amount")
        if kind in ("payment", "refund") and status == STATUS_SUCCEEDED and not params.get(when):
            raise PayloadInvalid(f"{when} is missing", "missing_field")
        stamp = params.get(when) or params["notify_time"]
        return PaymentNotification(
            channel=self.channel,
            event_id=params["notify_id"],
            kind=kind,
            channel_txn_id=(
                refund_txn_id(params["trade_no"], params.get("out_biz_no"), refund_fen)
                if kind == "refund"
                else params["trade_no"]
            ),
            order_no=params["out_trade_no"],
            amount_fen=amount,
            paid_at=china_local_time(stamp, when),
            status=status,
            raw=dict(params),
            refunds_txn_id=params["trade_no"] if kind == "refund" else None,
        )


def refund_txn_id(trade_no: str, refund_no: str | None, refund_total_fen: int) -> str:
    """The ledger key of one refund of a trade: `<trade_no>:<out_biz_no>`.

    Alipay gives a refund no id of its own: the notification carries the trade's trade_no and,
    in out_biz_no, the refund request number we sent (out_request_no, which the bill prints as
    退款批次号/请求号), so the two partial refunds of one trade stay distinct and the statement
    line of each refund finds its ledger entry. Without out_biz_no the running total keys it.
    """
    return f"{trade_no}:{refund_no or f'refund_fee={refund_total_fen}'}"


def refunded_trade_no(channel_txn_id: str) -> str:
    """The trade_no of an Alipay refund's ledger key (the payment the refund gives back)."""
    return channel_txn_id.split(":", 1)[0]


def refund_terms(item: Mapping[str, Any]) -> RefundTerms:
    """An Alipay refund as the ledger books it. A notify's refund_fee is the trade's running
    refunded total (origin 'webhook'); a statement line (origin 'statement') is one refund of
    its own amount, already counted in any running total notified after it. The refunded
    payment is the trade in the ledger key ("<trade_no>:<out_biz_no>")."""
    return RefundTerms(refunded_txn_id=refunded_trade_no(str(item["channel_txn_id"])),
                       amount_is_running_total=item.get("origin", "webhook") == "webhook",
                       totals_cover_earlier_lines=True)


def _content_charset(headers: Mapping[str, str]) -> str | None:
    content_type = header(headers, "Content-Type") or ""
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"')
    return None


def parse_form(body: bytes, charset: str | None) -> dict[str, str]:
    """Decode an x-www-form-urlencoded body; repeated keys are refused, blanks kept."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise PayloadInvalid("form body is not percent-encoded ASCII", "bad_form") from exc
    encoding = charset or "utf-8"
    pairs = _parse_pairs(text, encoding)
    declared = next((value for key, value in pairs if key == "charset"), None)
    if declared and declared.lower() != encoding.lower():
        pairs = _parse_pairs(text, declared)
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise PayloadInvalid(f"parameter {key!r} appears twice", "bad_form")
        params[key] = value
    return params


def _parse_pairs(text: str, encoding: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, encoding=encoding, errors="strict"
        )
    except (ValueError, LookupError) as exc:
        raise PayloadInvalid(f"form body does not parse as {encoding}: {exc}", "bad_form") from exc
