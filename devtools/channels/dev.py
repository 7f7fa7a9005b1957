"""Development channels for `canbao dev`: a WeChat Pay APIv3 merchant, an Alipay app and a bank
speaking Standard Webhooks, with keys created on first start in `.canbao/channels/` and kept
across restarts, so that `canbao pay` (and anyone trying the system by hand) can sign
notifications the payments service accepts.

Only `canbao dev` calls `ensure_dev_channels`; in every other environment channel keys come
from configuration (CANBAO_PAYMENTS_*, services/payments/settings.py) and nothing is generated.

    wechat_platform_private.pem  WeChat Pay platform private key (signs as WeChat Pay would)
    wechat_platform_public.pem   its public key: the 微信支付公钥 the service verifies with
    wechat_serial.txt            Wechatpay-Serial of that key (PUB_KEY_ID_...)
    wechat_apiv3_key.txt         the 32-character APIv3 key that encrypts `resource`
    alipay_private.pem           Alipay's private key (signs as Alipay would)
    alipay_public.pem            支付宝公钥: the service verifies notifications with it
    bank_webhook_secret.txt      the bank's Standard Webhooks secret (whsec_...)
    channels.json                every identifier a channel sends or is checked against
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.auth import region_prefix

from .testing import RsaKeyPair, random_apiv3_key

WECHAT_PRIVATE = "wechat_platform_private.pem"
WECHAT_PUBLIC = "wechat_platform_public.pem"
WECHAT_SERIAL = "wechat_serial.txt"
WECHAT_APIV3_KEY = "wechat_apiv3_key.txt"
ALIPAY_PRIVATE = "alipay_private.pem"
ALIPAY_PUBLIC = "alipay_public.pem"
BANK_SECRET = "bank_webhook_secret.txt"
CHANNELS_JSON = "channels.json"
FILES = (WECHAT_PRIVATE, WECHAT_PUBLIC, WECHAT_SERIAL, WECHAT_APIV3_KEY, ALIPAY_PRIVATE,
         ALIPAY_PUBLIC, BANK_SECRET, CHANNELS_JSON)

BANK_CHANNEL = "bank_dev"
DEFAULT_REGION = "370481"  # the county `canbao token`'s example uses; edit channels.json
KINDS = ("wechatpay", "alipay", "bank")


class DevChannelsMissing(RuntimeError):
    """The development channel material is not there (has `canbao dev` run here?)."""


@dataclass(frozen=True)
class DevChannels:
    directory: Path
    wechat_key: RsaKeyPair
    wechat_serial: str
    apiv3_key: str
    alipay_key: RsaKeyPair
    bank_secret: str
    identifiers: dict[str, Any]  # channels.json

    def channel(self, kind: str) -> dict[str, Any]:
        """channels.json's entry for `kind` (wechatpay | alipay | bank)."""
        return dict(self.identifiers[kind])

    def payments_env(self) -> dict[str, str]:
        """The CANBAO_PAYMENTS_* variables that configure the three channels."""
        wechat, alipay, bank = (self.channel(k) for k in KINDS)
        return {
            "CANBAO_PAYMENTS_WECHATPAY_PLATFORM_KEYS": json.dumps(
                {self.wechat_serial: self.wechat_key.public_pem}),
            "CANBAO_PAYMENTS_WECHATPAY_APIV3_KEY": self.apiv3_key,
            "CANBAO_PAYMENTS_WECHATPAY_MCHID": wechat["mchid"],
            "CANBAO_PAYMENTS_WECHATPAY_APPID": wechat["appid"],
            "CANBAO_PAYMENTS_WECHATPAY_REGION": wechat["region"] or "",
            "CANBAO_PAYMENTS_ALIPAY_APP_ID": alipay["app_id"],
            "CANBAO_PAYMENTS_ALIPAY_SELLER_ID": alipay["seller_id"],
            "CANBAO_PAYMENTS_ALIPAY_PUBLIC_KEY": self.alipay_key.public_pem,
            "CANBAO_PAYMENTS_ALIPAY_REGION": alipay["region"] or "",
            "CANBAO_PAYMENTS_WEBHOOK_SECRETS": json.dumps({bank["channel"]: [self.bank_secret]}),
            "CANBAO_PAYMENTS_WEBHOOK_REGIONS": json.dumps(
                {bank["channel"]: bank["region"]} if bank["region"] else {}),
        }


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


def _write(path: Path, text: str, *, private: bool = False) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(text, encoding="utf-8")
    temp.chmod(0o600 if private else 0o644)
    temp.replace(path)


def _key(directory: Path, private_name: str, public_name: str) -> RsaKeyPair:
    private_path = directory / private_name
    if private_path.exists():
        pair = RsaKeyPair.from_pem(private_path.read_bytes())
    else:
        pair = RsaKeyPair.generate()
        _write(private_path, pair.private_pem_pkcs8, private=True)
    if (not (directory / public_name).exists()
            or (directory / public_name).read_text() != pair.public_pem):
        _write(directory / public_name, pair.public_pem)
    return pair


def _text(directory: Path, name: str, make: Any, *, private: bool = True) -> str:
    path = directory / name
    if not path.exists():
        _write(path, make() + "\n", private=private)
    return path.read_text(encoding="utf-8").strip()


def _region(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if region_prefix(str(value)) is None:
        raise ValueError(f"channels.json: region {value!r} is not a 6- or 12-digit region code")
    return str(value)


def _identifiers(old: dict[str, Any], serial: str, payments_url: str) -> dict[str, Any]:
    wechat, alipay, bank = (dict(old.get(k) or {}) for k in KINDS)
    bank_channel = bank.get("channel") or BANK_CHANNEL
    return {
        "about": ("Development channels of `canbao dev` (keys in this folder, created on first "
                  "start). 开发用支付渠道：商户号、应用ID、密钥序列号与回调地址。Edit a region and "
                  "restart `canbao dev` to move a channel account to another county."),
        "payments_url": old.get("payments_url") or payments_url,
        "wechatpay": {
            "channel": "wechatpay", "webhook_path": "/v1/webhooks/wechatpay",
            "format": "WeChat Pay APIv3: AEAD_AES_256_GCM resource, WECHATPAY2-SHA256-RSA2048",
            "mchid": wechat.get("mchid") or "19" + _digits(8),
            "appid": wechat.get("appid") or "wx" + secrets.token_hex(8),
            "platform_key_serial": serial,
            "region": _region(wechat.get("region", DEFAULT_REGION)),
        },
        "alipay": {
            "channel": "alipay", "webhook_path": "/v1/webhooks/alipay",
            "format": "Alipay asynchronous notification, form-encoded, sign_type RSA2",
            "app_id": alipay.get("app_id") or "2021" + _digits(12),
            "seller_id": alipay.get("seller_id") or "2088" + _digits(12),
            "region": _region(alipay.get("region", DEFAULT_REGION)),
        },
        "bank": {
            "channel": bank_channel, "webhook_path": f"/v1/webhooks/{bank_channel}",
            "format": "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature v1)",
            "region": _region(bank.get("region", DEFAULT_REGION)),
        },
    }


def ensure_dev_channels(directory: Path,
                        payments_url: str = "http://127.0.0.1:8003") -> DevChannels:
    """Create what is missing in `directory` (keys once; identifiers once) and load it all.
    channels.json is rewritten from the keys each time, keeping its ids and regions."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    _key(directory, WECHAT_PRIVATE, WECHAT_PUBLIC)
    serial = _text(directory, WECHAT_SERIAL, lambda: "PUB_KEY_ID_01" + _digits(18),
                   private=False)
    _text(directory, WECHAT_APIV3_KEY, random_apiv3_key)
    _key(directory, ALIPAY_PRIVATE, ALIPAY_PUBLIC)
    _text(directory, BANK_SECRET,
          lambda: "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii"))
    path = directory / CHANNELS_JSON
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    _write(path, json.dumps(_identifiers(old, serial, payments_url), ensure_ascii=False,
                            indent=2) + "\n")
    return load_dev_channels(directory)


def load_dev_channels(directory: Path) -> DevChannels:
    """Read the material `ensure_dev_channels` left (what `canbao pay` signs with)."""
    missing = [name for name in FILES if not (directory / name).exists()]
    if missing:
        raise DevChannelsMissing(
            f"{directory}: {', '.join(missing)} missing; `canbao dev` creates them")
    identifiers = json.loads((directory / CHANNELS_JSON).read_text(encoding="utf-8"))
    return DevChannels(
        directory=directory,
        wechat_key=RsaKeyPair.from_pem((directory / WECHAT_PRIVATE).read_bytes()),
        wechat_serial=(directory / WECHAT_SERIAL).read_text(encoding="utf-8").strip(),
        apiv3_key=(directory / WECHAT_APIV3_KEY).read_text(encoding="utf-8").strip(),
        alipay_key=RsaKeyPair.from_pem((directory / ALIPAY_PRIVATE).read_bytes()),
        bank_secret=(directory / BANK_SECRET).read_text(encoding="utf-8").strip(),
        identifiers=identifiers,
    )
