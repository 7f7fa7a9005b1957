"""SENDER SIDE ONLY: build notifications the way the channels do, with throwaway keys.

Used by unit tests, integration tests, benchmarks and `canbao pay` (with the development keys
`canbao dev` creates). Nothing here is used to receive money.
(Standard Webhooks senders use `standard_webhooks.sign`, which is production code.)
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.payments.channels._support import CHINA_TZ
from services.payments.channels.alipay import sign_content
from services.payments.channels.wechatpay import SIGNATURE_TYPE, apiv3_key_bytes


@dataclass(frozen=True)
class RsaKeyPair:
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, bits: int = 2048) -> RsaKeyPair:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=bits))

    @classmethod
    def from_pem(cls, pem: bytes) -> RsaKeyPair:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("not an RSA private key")
        return cls(key)

    @property
    def public_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    @property
    def private_pem_pkcs1(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode("ascii")

    @property
    def private_pem_pkcs8(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    def sign_sha256(self, message: bytes) -> str:
        signature = self.private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")


def random_apiv3_key() -> str:
    """A 32-character APIv3 key like the ones merchants set (letters and digits)."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in os.urandom(32))


def _random_token(length: int) -> str:
    return base64.b32encode(os.urandom(length)).decode("ascii")[:length]


# --- WeChat Pay -----------------------------------------------------------------------------


def wechat_time(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).isoformat(timespec="seconds")


def wechat_transaction(
    out_trade_no: str,
    total_fen: int,
    success_time: datetime,
    transaction_id: str = "4200002166202412011234567890",
    mchid: str = "1900000109",
    appid: str = "wxd678efh567hg6787",
) -> dict[str, Any]:
    return {
        "mchid": mchid,
        "appid": appid,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": wechat_time(success_time),
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {
            "total": total_fen,
            "payer_total": total_fen,
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }


def wechat_refund(
    out_trade_no: str,
    out_refund_no: str,
    refund_fen: int,
    total_fen: int,
    success_time: datetime | None,
    refund_status: str = "SUCCESS",
    refund_id: str = "50302709992024120112345678901",
    transaction_id: str = "4200002166202412011234567890",
    mchid: str = "1900000109",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "mchid": mchid,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "out_refund_no": out_refund_no,
        "refund_id": refund_id,
        "refund_status": refund_status,
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": total_fen,
            "refund": refund_fen,
            "payer_total": total_fen,
            "payer_refund": refund_fen,
        },
    }
    if success_time is not None:
        resource["success_time"] = wechat_time(success_time)
    return resource


def wechat_encrypt(
    apiv3_key: str | bytes, plaintext: bytes, associated_data: str, nonce: str
) -> str:
    sealed = AESGCM(apiv3_key_bytes(apiv3_key)).encrypt(
        nonce.encode("utf-8"), plaintext, associated_data.encode("utf-8")
    )
    return base64.b64encode(sealed).decode("ascii")


def sign_notification(
    *,
    platform_key: RsaKeyPair,
    serial: str,
    apiv3_key: str | bytes,
    event_type: str,
    resource: Mapping[str, Any],
    timestamp: datetime,
    event_id: str | None = None,
    nonce: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """A WeChat Pay v3 notification: (headers, body), encrypted and signed like WeChat does."""
    original_type = "refund" if event_type.startswith("REFUND.") else "transaction"
    resource_nonce = _random_token(12)
    envelope = {
        "id": event_id or f"EV-{_random_token(20)}",
        "create_time": wechat_time(timestamp),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "退款成功" if original_type == "refund" else "支付成功",
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": wechat_encrypt(
                apiv3_key,
                json.dumps(resource, ensure_ascii=False).encode("utf-8"),
                original_type,
                resource_nonce,
            ),
            "associated_data": original_type,
            "nonce": resource_nonce,
        },
    }
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return sign_wechat_body(platform_key, serial, body, timestamp, nonce), body


def sign_wechat_body(
    platform_key: RsaKeyPair,
    serial: str,
    body: bytes,
    timestamp: datetime,
    nonce: str | None = None,
) -> dict[str, str]:
    stamp = str(int(timestamp.timestamp()))
    header_nonce = nonce or _random_token(32)
    message = f"{stamp}\n{header_nonce}\n".encode() + body + b"\n"
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": header_nonce,
        "Wechatpay-Signature": platform_key.sign_sha256(message),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
        "Content-Type": "application/json",
    }


# --- Alipay ---------------------------------------------------------------------------------


def alipay_time(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def alipay_payment_params(
    *,
    app_id: str,
    seller_id: str,
    out_trade_no: str,
    total_amount: str,
    paid_at: datetime,
    notify_time: datetime | None = None,
    trade_no: str = "2024120122001400001234567890",
    trade_status: str = "TRADE_SUCCESS",
    notify_id: str = "2024120100222100000000000000000001",
) -> dict[str, str]:
    """Parameters of a real-looking 交易支付成功 notification (before signing)."""
    return {
        "gmt_create": alipay_time(paid_at),
        "charset": "utf-8",
        "seller_email": "ybj***@example.gov.cn",
        "subject": "2025年度城乡居民医保缴费",
        "buyer_id": "2088102177846880",
        "invoice_amount": total_amount,
        "notify_id": notify_id,
        "fund_bill_list": json.dumps(
            [{"amount": total_amount, "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")
        ),
        "notify_type": "trade_status_sync",
        "trade_status": trade_status,
        "receipt_amount": total_amount,
        "buyer_pay_amount": total_amount,
        "app_id": app_id,
        "notify_time": alipay_time(notify_time or paid_at),
        "point_amount": "0.00",
        "total_amount": total_amount,
        "gmt_payment": alipay_time(paid_at),
        "trade_no": trade_no,
        "auth_app_id": app_id,
        "version": "1.0",
        "out_trade_no": out_trade_no,
        "seller_id": seller_id,
    }


def alipay_refund_params(
    *,
    app_id: str,
    seller_id: str,
    out_trade_no: str,
    total_amount: str,
    refund_fee: str,
    out_biz_no: str,
    paid_at: datetime,
    refunded_at: datetime,
    notify_time: datetime | None = None,
    trade_no: str = "2024120122001400001234567890",
    trade_status: str = "TRADE_SUCCESS",
    notify_id: str = "2024120100222100000000000000000002",
) -> dict[str, str]:
    """A refund notification (退款通知): the trade's parameters plus refund_fee — the trade's
    CUMULATIVE refunded total — gmt_refund (with milliseconds, as Alipay sends it) and
    out_biz_no, our refund request number. A refund to the full amount closes the trade."""
    params = alipay_payment_params(
        app_id=app_id, seller_id=seller_id, out_trade_no=out_trade_no,
        total_amount=total_amount, paid_at=paid_at, notify_time=notify_time or refunded_at,
        trade_no=trade_no, trade_status=trade_status, notify_id=notify_id,
    )
    params.update(
        refund_fee=refund_fee,
        gmt_refund=alipay_time(refunded_at) + f".{refunded_at.microsecond // 1000:03d}",
        out_biz_no=out_biz_no,
    )
    if trade_status == "TRADE_CLOSED":
        params["gmt_close"] = alipay_time(refunded_at)
    return params


def alipay_sign(
    params: Mapping[str, str], private_key: RsaKeyPair, charset: str = "utf-8"
) -> dict[str, str]:
    """Add sign_type=RSA2 and sign the way Alipay signs a notification."""
    signed = {key: value for key, value in params.items() if key not in ("sign", "sign_type")}
    signed["sign"] = private_key.sign_sha256(sign_content(signed).encode(charset))
    signed["sign_type"] = "RSA2"
    return signed


def alipay_form(params: Mapping[str, str], charset: str = "utf-8") -> bytes:
    return urlencode(list(params.items()), encoding=charset).encode("ascii")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
