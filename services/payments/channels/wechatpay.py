"""WeChat Pay API v3 payment and refund notifications (支付通知 / 退款结果通知).

Verification follows WeChat's published procedure:
  1. headers Wechatpay-Timestamp, Wechatpay-Nonce, Wechatpay-Signature, Wechatpay-Serial;
  2. the timestamp is within ±300 s of now;
  3. Wechatpay-Serial picks the platform key (certificate serial or `PUB_KEY_ID_...`);
  4. SHA256withRSA (PKCS#1 v1.5) over "timestamp\\nnonce\\nbody\\n" with the raw body bytes;
  5. `resource` is AEAD_AES_256_GCM, key = the 32-byte APIv3 key, nonce and
     associated_data used as their UTF-8 bytes, ciphertext = base64(ciphertext || 16-byte tag).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from cryptography.x509 import load_pem_x509_certificate

from ._support import (
    DEFAULT_TOLERANCE,
    check_tolerance,
    checked_fen,
    header,
    json_failure,
    rfc3339,
    unix_seconds,
)
from .base import (
    STATUS_CLOSED,
    STATUS_FAILED,
    STATUS_SUCCEEDED,
    ChannelResponse,
    PayloadInvalid,
    PaymentNotification,
    SignatureInvalid,
    UnknownKeySerial,
)

CHANNEL = "wechatpay"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
AEAD_ALGORITHM = "AEAD_AES_256_GCM"

_REFUND_STATUS = {
    "REFUND.SUCCESS": ("SUCCESS", STATUS_SUCCEEDED),
    "REFUND.ABNORMAL": ("ABNORMAL", STATUS_FAILED),
    "REFUND.CLOSED": ("CLOSED", STATUS_CLOSED),
}


def load_platform_key(pem: str | bytes) -> RSAPublicKey:
    """A WeChat Pay platform public key, given as a PUBLIC KEY PEM or a platform certificate."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = (
        load_pem_x509_certificate(data).public_key()
        if b"BEGIN CERTIFICATE" in data
        else load_pem_public_key(data)
    )
    if not isinstance(key, RSAPublicKey):
        raise ValueError("WeChat Pay platform keys are RSA keys")
    return key


def apiv3_key_bytes(key: str | bytes) -> bytes:
    """The APIv3 key is a 32-character string set in the merchant platform, used as its bytes."""
    raw = key.encode("utf-8") if isinstance(key, str) else key
    if len(raw) != 32:
        raise ValueError("the WeChat Pay APIv3 key must be exactly 32 bytes")
    return raw


@dataclass(frozen=True)
class WeChatPayConfig:
    platform_keys: Mapping[str, str | bytes]  # Wechatpay-Serial -> PEM (public key or cert)
    apiv3_key: str | bytes  # 32 bytes
    mchid: str | None = None  # when set, the decrypted resource must carry this merchant id
    appid: str | None = None  # when set, a payment's appid must match
    tolerance: timedelta = DEFAULT_TOLERANCE
    channel: str = CHANNEL


@dataclass
class WeChatPayAdapter:
    config: WeChatPayConfig
    _keys: dict[str, RSAPublicKey] = field(init=False, repr=False)
    _aead: AESGCM = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.config.platform_keys:
            raise ValueError("at least one WeChat Pay platform key is required")
        self._keys = {
            serial: load_platform_key(pem) for serial, pem in self.config.platform_keys.items()
        }
        self._aead = AESGCM(apiv3_key_bytes(self.config.apiv3_key))

    @property
    def channel(self) -> str:
        return self.config.channel

    def verify_and_parse(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> PaymentNotification:
        self._verify(headers, body, now)
        envelope = _json_object(body, "notification body")
        plaintext = self._decrypt(envelope.get("resource"))
        resource = _json_object(plaintext, "decrypted resource")
        event_type = _text(envelope, "event_type")
        if event_type == "TRANSACTION.SUCCESS":
            return self._payment(envelope, resource)
        if event_type in _REFUND_STATUS:
            return self._refund(envelope, resource, event_type)
        raise PayloadInvalid(f"event_type {event_type!r} is not handled", "unsupported_event")

    def success_response(self) -> ChannelResponse:
        return ChannelResponse(204, None, b"")

    def failure_response(self, error: BaseException) -> ChannelResponse:
        # WeChat only reads the status code (any 4xx/5xx means "retry") and logs the body.
        return json_failure(error, code="FAIL")

    # --- verification -------------------------------------------------------------------

    def _verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        values = {
            name: header(headers, name)
            for name in (
                "Wechatpay-Timestamp",
                "Wechatpay-Nonce",
                "Wechatpay-Signature",
                "Wechatpay-Serial",
            )
        }
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise SignatureInvalid(f"missing header(s): {', '.join(missing)}", "missing_header")
        signature_type = header(headers, "Wechatpay-Signature-Type")
        if signature_type is not None and signature_type != SIGNATURE_TYPE:
            raise SignatureInvalid(f"signature type {signature_type!r} is not {SIGNATURE_TYPE}")
        timestamp = values["Wechatpay-Timestamp"] or ""
        nonce = values["Wechatpay-Nonce"] or ""
        check_tolerance(unix_seconds(timestamp, "Wechatpay-Timestamp"), now, self.config.tolerance)
        serial = values["Wechatpay-Serial"] or ""
        key = self._keys.get(serial)
        if key is None:
            raise UnknownKeySerial(f"no platform key configured for serial {serial!r}")
        try:
            signature = base64.b64decode(values["Wechatpay-Signature"] or "", validate=True)
        except binascii.Error as exc:
            raise SignatureInvalid("Wechatpay-Signature is not base64") from exc
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
        try:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise SignatureInvalid("signature does not match the platform key") from exc

    def _decrypt(self, resource: object) -> bytes:
        if not isinstance(resource, dict):
            raise PayloadInvalid("resource is missing", "missing_field")
        algorithm = resource.get("algorithm")
        if algorithm != AEAD_ALGORITHM:
            raise PayloadInvalid(
                f"resource algorithm {algorithm!r} is not {AEAD_ALGORITHM}", "bad_algorithm"
            )
        nonce = _text(resource, "nonce", "resource.")
        associated = resource.get("associated_data") or ""
        if not isinstance(associated, str):
            raise PayloadInvalid("resource.associated_data is not a string")
        try:
            ciphertext = base64.b64decode(_text(resource, "ciphertext", "resource."), validate=True)
            return self._aead.decrypt(nonce.encode("utf-8"), ciphertext, associated.encode("utf-8"))
        except (binascii.Error, InvalidTag, ValueError) as exc:
            raise PayloadInvalid(
                "resource does not decrypt with the APIv3 key", "decrypt_failed"
            ) from exc

    # --- normalization ------------------------------------------------------------------

    def _check_merchant(self, resource: Mapping[str, Any]) -> None:
        if self.config.mchid is not None and resource.get("mchid") != self.config.mchid:
            raise PayloadInvalid(f"mchid {resource.get('mchid')!r} is not ours", "wrong_merchant")

    def _payment(
        self, envelope: Mapping[str, Any], resource: Mapping[str, Any]
    ) -> PaymentNotification:
        self._check_merchant(resource)
        if self.config.appid is not None and resource.get("appid") != self.config.appid:
            raise PayloadInvalid(f"appid {resource.get('appid')!r} is not ours", "wrong_app_id")
        trade_state = _text(resource, "trade_state")
        if trade_state != "SUCCESS":
            raise PayloadInvalid(
                f"TRANSACTION.SUCCESS with trade_state {trade_state!r}", "bad_status"
            )
        amount = _amount(resource)
        return PaymentNotification(
            channel=self.channel,
            event_id=_text(envelope, "id"),
            kind="payment",
            channel_txn_id=_text(resource, "transaction_id"),
            order_no=_text(resource, "out_trade_no"),
            amount_fen=_fen(amount, "total", positive=True),
            paid_at=rfc3339(resource.get("success_time"), "success_time"),
            status=STATUS_SUCCEEDED,
            raw={**envelope, "resource": dict(resource)},
        )

    def _refund(
        self, envelope: Mapping[str, Any], resource: Mapping[str, Any], event_type: str
    ) -> PaymentNotification:
        self._check_merchant(resource)
        expected_status, status = _REFUND_STATUS[event_type]
        refund_status = _text(resource, "refund_status")
        if refund_status != expected_status:
            raise PayloadInvalid(f"{event_type} with refund_status {refund_status!r}", "bad_status")
        _text(resource, "out_refund_no")
        # A refund that never succeeded has no success_time; the event time stands in.
        when = resource.get("success_time") or envelope.get("create_time")
        return PaymentNotification(
            channel=self.channel,
            event_id=_text(envelope, "id"),
            kind="refund",
            channel_txn_id=_text(resource, "refund_id"),
            order_no=_text(resource, "out_trade_no"),
            amount_fen=_fen(_amount(resource), "refund", positive=True),
            paid_at=rfc3339(when, "success_time"),
            status=status,
            raw={**envelope, "resource": dict(resource)},
            refunds_txn_id=str(resource["transaction_id"]) if resource.get("transaction_id")
            else None,
        )


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadInvalid(f"{what} is not JSON", "bad_json") from exc
    if not isinstance(parsed, dict):
        raise PayloadInvalid(f"{what} is not a JSON object", "bad_json")
    return parsed


def _text(obj: Mapping[str, Any], key: str, prefix: str = "") -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise PayloadInvalid(f"{prefix}{key} is missing", "missing_field")
    return value


def _amount(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    amount = resource.get("amount")
    if not isinstance(amount, dict):
        raise PayloadInvalid("amount is missing", "missing_field")
    currency = amount.get("currency", "CNY")
    if currency != "CNY":
        raise PayloadInvalid(f"currency {currency!r} is not CNY", "bad_currency")
    return amount


def _fen(amount: Mapping[str, Any], key: str, positive: bool) -> int:
    value = amount.get(key)
    # JSON integers only: bool is an int subclass and 1.0 is a float; both are refused.
    if type(value) is not int:
        raise PayloadInvalid(
            f"amount.{key} {value!r} is not an integer number of fen", "bad_amount"
        )
    if positive and value == 0:
        raise PayloadInvalid(f"amount.{key} {value} is out of range", "bad_amount")
    return checked_fen(value, f"amount.{key}")
