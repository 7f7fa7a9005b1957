"""Standard Webhooks (https://www.standardwebhooks.com/) for banks, POS terminals, tax halls.

The sender signs `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 under the
base64 key of a `whsec_...` secret and sends `webhook-signature: v1,<base64> [v1,<base64> ...]`
(several entries while secrets rotate). We accept any configured secret, compare in constant
time, and refuse timestamps more than 300 s away from now.

Body (our schema, strict):
    {"type": "payment.succeeded" | "payment.refunded" | "payment.closed" | "payment.reversed",
     "timestamp": "<RFC 3339, optional>",
     "data": {"order_no": str, "channel_txn_id": str, "amount_fen": int, "paid_at": "<RFC 3339>"}}

`payment.reversed` is a reversal (冲正): the channel undoes a payment it reported as succeeded.
Its `channel_txn_id` is the REVERSED PAYMENT's transaction id, `amount_fen` the amount reversed
and `paid_at` when the reversal happened. A payment is reversed at most once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ._support import (
    DEFAULT_TOLERANCE,
    MAX_AMOUNT_FEN,
    check_tolerance,
    header,
    in_calendar,
    json_failure,
    unix_seconds,
)
from .base import (
    STATUS_CLOSED,
    STATUS_SUCCEEDED,
    ChannelResponse,
    NotificationKind,
    PayloadInvalid,
    PaymentNotification,
    SignatureInvalid,
)

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"

EventType = Literal["payment.succeeded", "payment.refunded", "payment.closed",
                    "payment.reversed"]
_KINDS: dict[str, tuple[NotificationKind, str]] = {
    "payment.succeeded": ("payment", STATUS_SUCCEEDED),
    "payment.refunded": ("refund", STATUS_SUCCEEDED),
    "payment.closed": ("close", STATUS_CLOSED),
    "payment.reversed": ("reversal", STATUS_SUCCEEDED),
}


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class PaymentEventData(_Strict):
    order_no: str = Field(min_length=1, max_length=64)
    channel_txn_id: str = Field(min_length=1, max_length=128)
    # integer fen the ledger can hold; JSON 1.0, "100" and true are refused
    amount_fen: int = Field(ge=0, le=MAX_AMOUNT_FEN)
    paid_at: AwareDatetime


class PaymentEvent(_Strict):
    type: EventType
    timestamp: AwareDatetime | None = None
    data: PaymentEventData


def secret_key(secret: str) -> bytes:
    """`whsec_<base64>` -> the HMAC key bytes."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("webhook secrets look like 'whsec_<base64>'")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error as exc:
        raise ValueError("the part after 'whsec_' must be base64") from exc
    if len(key) < 16:
        raise ValueError("a webhook secret needs at least 16 random bytes")
    return key


def _digest(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value a sender puts on `body` (one `v1,` entry)."""
    digest = _digest(secret_key(secret), msg_id, str(timestamp), body)
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """All three headers a sender attaches."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


@dataclass(frozen=True)
class StandardWebhooksConfig:
    channel: str  # e.g. "bank_ccb", "pos_yunongtong", "tax_hall"
    secrets: Sequence[str]  # whsec_...; several while rotating
    tolerance: timedelta = DEFAULT_TOLERANCE


@dataclass
class StandardWebhooksAdapter:
    config: StandardWebhooksConfig
    _keys: tuple[bytes, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.config.channel:
            raise ValueError("a channel name is required")
        if not self.config.secrets:
            raise ValueError("at least one webhook secret is required")
        self._keys = tuple(secret_key(secret) for secret in self.config.secrets)

    @property
    def channel(self) -> str:
        return self.config.channel

    def verify_and_parse(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> PaymentNotification:
        msg_id = header(headers, "webhook-id")
        timestamp = header(headers, "webhook-timestamp")
        signatures = header(headers, "webhook-signature")
        if not msg_id or not timestamp or not signatures:
            raise SignatureInvalid(
                "webhook-id, webhook-timestamp and webhook-signature are required", "missing_header"
            )
        check_tolerance(unix_seconds(timestamp, "webhook-timestamp"), now, self.config.tolerance)
        self._verify(msg_id, timestamp, signatures, body)
        event = _parse_event(body)
        kind, status = _KINDS[event.type]
        data = event.data
        if kind != "close" and data.amount_fen == 0:
            raise PayloadInvalid("data.amount_fen must be positive", "bad_amount")
        return PaymentNotification(
            channel=self.channel,
            event_id=msg_id,
            kind=kind,
            channel_txn_id=data.channel_txn_id,
            order_no=data.order_no,
            amount_fen=data.amount_fen,
            paid_at=in_calendar(data.paid_at, "data.paid_at"),
            status=status,
            raw=event.model_dump(mode="json"),
        )

    def success_response(self) -> ChannelResponse:
        return ChannelResponse(204, None, b"")

    def failure_response(self, error: BaseException) -> ChannelResponse:
        return json_failure(error)

    def _verify(self, msg_id: str, timestamp: str, signatures: str, body: bytes) -> None:
        offered: list[bytes] = []
        for entry in signatures.split():
            version, _, encoded = entry.partition(",")
            if version != SIGNATURE_VERSION:
                continue  # e.g. v1a (asymmetric): not ours to check
            try:
                offered.append(base64.b64decode(encoded, validate=True))
            except binascii.Error:
                continue
        if not offered:
            raise SignatureInvalid("no v1 signature in webhook-signature")
        for key in self._keys:
            expected = _digest(key, msg_id, timestamp, body)
            # Check every pair without stopping early on a mismatch: constant time per compare.
            if any([hmac.compare_digest(expected, candidate) for candidate in offered]):
                return
        raise SignatureInvalid("no signature matches a configured secret")


def _parse_event(body: bytes) -> PaymentEvent:
    try:
        return PaymentEvent.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()
        )
        raise PayloadInvalid(f"body does not match the payment event schema: {problems}") from exc
