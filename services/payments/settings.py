"""Payments' own settings: channel keys and secrets, read from CANBAO_PAYMENTS_* variables.

Maps are JSON-encoded, e.g.
    CANBAO_PAYMENTS_WECHATPAY_PLATFORM_KEYS='{"PUB_KEY_ID_0114...": "-----BEGIN PUBLIC KEY-----..."}'
    CANBAO_PAYMENTS_WEBHOOK_SECRETS='{"bank_ccb": ["whsec_..."], "tax_hall": ["whsec_..."]}'
    CANBAO_PAYMENTS_WEBHOOK_REGIONS='{"bank_ccb": "370481"}'
A channel without configuration is simply not accepted (its webhook answers 404); nothing is
generated here, in any environment (`canbao dev` alone creates development keys and passes
them in these variables: devtools/channels/dev.py).

Each channel account names the region it collects for (`*_REGION`, `WEBHOOK_REGIONS`): money
that arrives on it and names no person payments knows of is that region's to resolve; money of
an account without a region only nationwide callers' and administrators'.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.payments.channels import (
    AlipayAdapter,
    AlipayConfig,
    ChannelAdapter,
    StandardWebhooksAdapter,
    StandardWebhooksConfig,
    WeChatPayAdapter,
    WeChatPayConfig,
)
from shared.auth import region_prefix

RESERVED_CHANNELS = frozenset({"wechatpay", "alipay", "government"})
_CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class PaymentsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CANBAO_PAYMENTS_", extra="ignore")

    wechatpay_platform_keys: dict[str, str] = Field(default_factory=dict)
    wechatpay_apiv3_key: str | None = None
    wechatpay_mchid: str | None = None
    wechatpay_appid: str | None = None
    wechatpay_region: str | None = None

    alipay_app_id: str | None = None
    alipay_seller_id: str | None = None
    alipay_public_key: str | None = None
    alipay_region: str | None = None

    # Standard Webhooks channels (banks, POS operators, tax halls): channel -> whsec_ secrets.
    webhook_secrets: dict[str, list[str]] = Field(default_factory=dict)
    # Standard Webhooks channel -> the region its account collects for
    webhook_regions: dict[str, str] = Field(default_factory=dict)
    webhook_tolerance_seconds: int = Field(300, ge=30, le=3600)

    # Connections of the hot paths (webhooks, bill lookup), per worker process.
    pool_size: int = Field(10, ge=1, le=200)
    # Peak-season switches (both on by default; off only to measure what they bring):
    # the plain-ASGI fast lane for webhooks and bill lookups (services/payments/fastlane.py),
    # and group commit of webhook intake (services/payments/webhooks/ingest.py Intake).
    fast_lane: bool = True
    group_commit: bool = True

    @field_validator("webhook_secrets")
    @classmethod
    def _channel_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name in value:
            if name in RESERVED_CHANNELS or not _CHANNEL_NAME.match(name):
                raise ValueError(f"{name!r} cannot be a Standard Webhooks channel name")
        return value

    @field_validator("wechatpay_region", "alipay_region", mode="before")
    @classmethod
    def _region(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or region_prefix(value) is None:
            raise ValueError(f"{value!r} is not a 6- or 12-digit region code")
        return value

    @field_validator("webhook_regions")
    @classmethod
    def _regions(cls, value: dict[str, str]) -> dict[str, str]:
        for name, region in value.items():
            if region_prefix(region) is None:
                raise ValueError(f"{name}: {region!r} is not a 6- or 12-digit region code")
        return value

    def channel_regions(self) -> dict[str, str]:
        """channel -> the region of its account (channels without one are left out)."""
        regions = {"wechatpay": self.wechatpay_region, "alipay": self.alipay_region,
                   **self.webhook_regions}
        return {channel: region for channel, region in regions.items() if region}

    def adapters(self) -> dict[str, ChannelAdapter]:
        """One adapter per configured channel; a half-configured channel is an error."""
        adapters: dict[str, ChannelAdapter] = {}
        if self.wechatpay_platform_keys or self.wechatpay_apiv3_key:
            if not (self.wechatpay_platform_keys and self.wechatpay_apiv3_key):
                raise ValueError("WeChat Pay needs both platform keys and the APIv3 key")
            adapters["wechatpay"] = WeChatPayAdapter(WeChatPayConfig(
                platform_keys=self.wechatpay_platform_keys, apiv3_key=self.wechatpay_apiv3_key,
                mchid=self.wechatpay_mchid, appid=self.wechatpay_appid,
                tolerance=timedelta(seconds=self.webhook_tolerance_seconds)))
        alipay = (self.alipay_app_id, self.alipay_seller_id, self.alipay_public_key)
        if any(alipay):
            if not all(alipay):
                raise ValueError("Alipay needs app_id, seller_id and the Alipay public key")
            adapters["alipay"] = AlipayAdapter(AlipayConfig(
                app_id=self.alipay_app_id or "", seller_id=self.alipay_seller_id or "",
                alipay_public_key=self.alipay_public_key or ""))
        for channel, secrets in self.webhook_secrets.items():
            adapters[channel] = StandardWebhooksAdapter(StandardWebhooksConfig(
                channel=channel, secrets=tuple(secrets),
                tolerance=timedelta(seconds=self.webhook_tolerance_seconds)))
        return adapters


@lru_cache
def get_payments_settings() -> PaymentsSettings:
    return PaymentsSettings()
