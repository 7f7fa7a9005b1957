"""Payment channel adapters: verify, parse and normalize inbound payment notifications."""

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
    SignatureInvalid,
    TimestampOutOfTolerance,
    UnknownKeySerial,
)
from .standard_webhooks import StandardWebhooksAdapter, StandardWebhooksConfig
from .wechatpay import WeChatPayAdapter, WeChatPayConfig

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
    "SignatureInvalid",
    "StandardWebhooksAdapter",
    "StandardWebhooksConfig",
    "TimestampOutOfTolerance",
    "UnknownKeySerial",
    "WeChatPayAdapter",
    "WeChatPayConfig",
]
