"""What every payment channel adapter produces, and how it says no.

An adapter turns one inbound HTTP notification (headers + raw body bytes) into a
`PaymentNotification`, or raises a `ChannelRejected` subclass. It does no I/O: the caller
supplies `now`, the database and the HTTP framework live elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple, Protocol

# "reversal": the channel undoes a payment it had reported as succeeded (a bank's 冲正):
# channel_txn_id is then the reversed payment's transaction id.
NotificationKind = Literal["payment", "refund", "close", "reversal"]

# Normalized status vocabulary shared by notifications and statement lines. Only
# "succeeded" moves money; the channel's own status word stays in `raw`.
STATUS_SUCCEEDED = "succeeded"
STATUS_PENDING = "pending"
STATUS_FAILED = "failed"
STATUS_CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class PaymentNotification:
    channel: str
    event_id: str  # the channel's id for this notification: dedupe on (channel, event_id)
    kind: NotificationKind
    # payment: the channel's transaction id; WeChat refund: refund_id; Alipay refund:
    # "<trade_no>:<out_biz_no>" (see alipay.refund_txn_id); reversal: the reversed payment's id
    channel_txn_id: str
    order_no: str  # our order number (out_trade_no)
    # payment/close: order total; reversal: the reversed amount; refund: the refunded amount,
    # except Alipay, whose refund_fee is the trade's CUMULATIVE refunded total (see adapter)
    amount_fen: int
    paid_at: datetime  # aware UTC: payment, refund or close time as the channel reports it
    status: str  # one of the STATUS_* values above
    raw: dict[str, Any] = field(compare=False)  # verified, decrypted channel payload
    # refund: the channel's id of the payment it gives back, when the channel names it
    refunds_txn_id: str | None = None

    def __post_init__(self) -> None:
        if self.paid_at.tzinfo is None or self.paid_at.utcoffset() != timedelta(0):
            raise ValueError("paid_at must be an aware UTC datetime")
        if type(self.amount_fen) is not int or self.amount_fen < 0:
            raise ValueError("amount_fen must be a non-negative int")


@dataclass(frozen=True, slots=True)
class RefundTerms:
    """What a refund's normalized notification means for the ledger, channel quirks made plain
    by the channel's own module (`refund_terms` in services/payments/channels/__init__.py), so
    that posting never asks which channel it is.

    `refunded_txn_id`: the channel's id of the payment the refund gives back (None: the channel
    does not say; the order's payment is meant). `amount_is_running_total`: `amount_fen` is the
    payment's refunded total so far, not this refund's amount (posting books the difference
    from what is already booked). `totals_cover_earlier_lines`: this channel's webhooks report
    running totals, so a refund line of its own amount (a statement line) dated at or before
    the latest total booked is already counted in it."""

    refunded_txn_id: str | None
    amount_is_running_total: bool = False
    totals_cover_earlier_lines: bool = False


class ChannelRejected(Exception):
    """The notification must not be trusted. `code` is stable, `reason` is for humans."""

    default_code = "rejected"

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code or self.default_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


class SignatureInvalid(ChannelRejected):
    default_code = "signature_invalid"


class TimestampOutOfTolerance(ChannelRejected):
    default_code = "timestamp_out_of_tolerance"


class UnknownKeySerial(ChannelRejected):
    default_code = "unknown_key_serial"


class PayloadInvalid(ChannelRejected):
    default_code = "payload_invalid"


class ChannelResponse(NamedTuple):
    """What the HTTP layer sends back: (status_code, content_type or None, body)."""

    status_code: int
    content_type: str | None
    body: bytes


class ChannelAdapter(Protocol):
    channel: str

    def verify_and_parse(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> PaymentNotification: ...

    def success_response(self) -> ChannelResponse: ...

    def failure_response(self, error: BaseException) -> ChannelResponse: ...


def rejection_status(error: BaseException) -> int:
    """HTTP status for a failure answer: 401 for authenticity, 400 for content, 500 otherwise."""
    if isinstance(error, (SignatureInvalid, TimestampOutOfTolerance, UnknownKeySerial)):
        return 401
    if isinstance(error, PayloadInvalid):
        return 400
    return 500
