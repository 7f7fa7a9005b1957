"""Payment channel adapters: verify, parse and normalize inbound payment notifications."""

from collections.abc import Callable, Mapping
from typing import Any

from . import alipay
from .alipay import AlipayAdapter, AlipayConfig
from .base import (
    STATUS_CLOSED,
    STATUS_FAILED,
    STATUS_PENDING,
    STATUS_SUCCEEDED,
    ChannelAdapter,
    ChannelRejected,
    ChannelResponse,
    PayloadInvalid,
    PaymentNotification,
    RefundTerms,
    SignatureInvalid,
    TimestampOutOfTolerance,
    UnknownKeySerial,
)
from .standard_webhooks import StandardWebhooksAdapter, StandardWebhooksConfig
from .wechatpay import WeChatPayAdapter, WeChatPayConfig

# Channels whose refunds need reading in their own way (keyed by the channel's name, as the
# normalized notification carries it); any other channel's refund is one refund of its own
# amount, naming the payment it gives back in `refunds_txn_id` when the channel says so.
_REFUND_READERS: dict[str, Callable[[Mapping[str, Any]], RefundTerms]] = {
    alipay.CHANNEL: alipay.refund_terms,
}


def refund_terms(item: Mapping[str, Any]) -> RefundTerms:
    """What a normalized refund (the work item matching receives) means for the ledger."""
    reader = _REFUND_READERS.get(item["channel"])
    if reader is not None:
        return reader(item)
    return RefundTerms(refunded_txn_id=item.get("refunds_txn_id"))


__all__ = [
    "STATUS_CLOSED",
    "STATUS_FAILED",
    "STATUS_PENDING",
    "STATUS_SUCCEEDED",
    "AlipayAdapter",
    "AlipayConfig",
    "ChannelAdapter",
    "ChannelRejected",
    "ChannelResponse",
    "PayloadInvalid",
    "PaymentNotification",
    "RefundTerms",
    "SignatureInvalid",
    "StandardWebhooksAdapter",
    "StandardWebhooksConfig",
    "TimestampOutOfTolerance",
    "UnknownKeySerial",
    "WeChatPayAdapter",
    "WeChatPayConfig",
    "refund_terms",
]
