from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from devtools.channels.testing import (
    RsaKeyPair,
    random_apiv3_key,
    sign_notification,
    sign_wechat_body,
    utc,
    wechat_refund,
    wechat_transaction,
)
from services.payments.channels import (
    PayloadInvalid,
    SignatureInvalid,
    TimestampOutOfTolerance,
    UnknownKeySerial,
    WeChatPayAdapter,
    WeChatPayConfig,
)

SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
OLD_SERIAL = "PUB_KEY_ID_0114232134912410000000000000"
APIV3_KEY = random_apiv3_key()
MCHID = "1900000109"
SENT = utc(2024, 12, 1, 2, 0, 5)
PAID = utc(2024, 12, 1, 2, 0, 0)


@pytest.fixture
def adapter(platform_key: RsaKeyPair, other_key: RsaKeyPair) -> WeChatPayAdapter:
    return WeChatPayAdapter(
        WeChatPayConfig(
            platform_keys={SERIAL: platform_key.public_pem, OLD_SERIAL: other_key.public_pem},
            apiv3_key=APIV3_KEY,
            mchid=MCHID,
            appid="wxd678efh567hg6787",
        )
    )


def payment(platform_key: RsaKeyPair, **changes: Any) -> tuple[dict[str, str], bytes]:
    resource = wechat_transaction("CB2025370481000000001", 40000, PAID, mchid=MCHID)
    resource.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        del resource[key]  # None means "leave the field out"
    return sign_notification(
        platform_key=platform_key,
        serial=SERIAL,
        apiv3_key=APIV3_KEY,
        event_type="TRANSACTION.SUCCESS",
        resource=resource,
        timestamp=SENT,
        event_id="EV-2018022511223320873",
    )


def test_a_payment_notification_becomes_a_normalized_payment(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    headers, body = payment(platform_key)
    note = adapter.verify_and_parse(headers, body, SENT + timedelta(seconds=2))
    assert note.channel == "wechatpay"
    assert note.event_id == "EV-2018022511223320873"
    assert note.kind == "payment"
    assert note.order_no == "CB2025370481000000001"
    assert note.channel_txn_id == "4200002166202412011234567890"
    assert note.amount_fen == 40000
    assert note.paid_at == PAID and note.paid_at.tzinfo == UTC
    assert note.status == "succeeded"
    assert note.raw["resource"]["trade_state"] == "SUCCESS"


def test_headers_are_matched_case_insensitively(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    headers, body = payment(platform_key)
    lowered = {key.lower(): value for key, value in headers.items()}
    assert adapter.verify_and_parse(lowered, body, SENT).amount_fen == 40000


def test_a_refund_notification_carries_the_refund_id_and_refunded_amount(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    refunded_at = utc(2024, 12, 2, 8, 0, 0)
    resource = wechat_refund("CB2025370481000000001", "RF1", 15000, 40000, refunded_at, mchid=MCHID)
    headers, body = sign_notification(
        platform_key=platform_key,
        serial=SERIAL,
        apiv3_key=APIV3_KEY,
        event_type="REFUND.SUCCESS",
        resource=resource,
        timestamp=refunded_at,
    )
    note = adapter.verify_and_parse(headers, body, refunded_at)
    assert (note.kind, note.status, note.amount_fen) == ("refund", "succeeded", 15000)
    assert note.channel_txn_id == "50302709992024120112345678901"
    assert note.order_no == "CB2025370481000000001"
    assert note.paid_at == refunded_at


def test_a_closed_refund_has_no_success_time_and_uses_the_event_time(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    resource = wechat_refund("CB1", "RF1", 15000, 40000, None, refund_status="CLOSED", mchid=MCHID)
    headers, body = sign_notification(
        platform_key=platform_key,
        serial=SERIAL,
        apiv3_key=APIV3_KEY,
        event_type="REFUND.CLOSED",
        resource=resource,
        timestamp=SENT,
    )
    note = adapter.verify_and_parse(headers, body, SENT)
    assert (note.kind, note.status, note.paid_at) == ("refund", "closed", SENT)


def test_the_serial_chooses_among_several_platform_keys(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair, other_key: RsaKeyPair
) -> None:
    resource = wechat_transaction("CB1", 100, PAID, mchid=MCHID)
    headers, body = sign_notification(
        platform_key=other_key,
        serial=OLD_SERIAL,
        apiv3_key=APIV3_KEY,
        event_type="TRANSACTION.SUCCESS",
        resource=resource,
        timestamp=SENT,
    )
    assert adapter.verify_and_parse(headers, body, SENT).amount_fen == 100
    # The same signature presented under the other serial is checked against the other key.
    headers["Wechatpay-Serial"] = SERIAL
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse(headers, body, SENT)


def test_a_platform_certificate_works_as_the_key(platform_key: RsaKeyPair) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(platform_key.private_key.public_key())
        .serial_number(int(SERIAL, 16))
        .not_valid_before(datetime(2024, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2029, 1, 1, tzinfo=UTC))
        .sign(platform_key.private_key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    adapter = WeChatPayAdapter(WeChatPayConfig(platform_keys={SERIAL: pem}, apiv3_key=APIV3_KEY))
    headers, body = payment(platform_key)
    assert adapter.verify_and_parse(headers, body, SENT).order_no == "CB2025370481000000001"


def test_a_signature_from_another_key_is_rejected(
    adapter: WeChatPayAdapter, other_key: RsaKeyPair
) -> None:
    headers, body = payment(other_key)
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse(headers, body, SENT)


def test_a_tampered_body_is_rejected(adapter: WeChatPayAdapter, platform_key: RsaKeyPair) -> None:
    headers, body = payment(platform_key)
    tampered = body.replace(
        b'"event_type":"TRANSACTION.SUCCESS"', b'"event_type":"TRANSACTION.SUCCESS" '
    )
    assert tampered != body
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse(headers, tampered, SENT)


def test_a_tampered_nonce_or_timestamp_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    headers, body = payment(platform_key)
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse(
            {**headers, "Wechatpay-Nonce": "X" + headers["Wechatpay-Nonce"]}, body, SENT
        )
    later = str(int(headers["Wechatpay-Timestamp"]) + 1)
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse({**headers, "Wechatpay-Timestamp": later}, body, SENT)


def test_a_signature_that_is_not_base64_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    headers, body = payment(platform_key)
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse({**headers, "Wechatpay-Signature": "not base64!"}, body, SENT)


def test_wechat_signature_probes_are_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    # WeChat sends probes whose signature starts with WECHATPAY/SIGNTEST/ to see that we check.
    headers, body = payment(platform_key)
    probe = "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse({**headers, "Wechatpay-Signature": probe}, body, SENT)


def test_an_unknown_serial_is_rejected(adapter: WeChatPayAdapter, platform_key: RsaKeyPair) -> None:
    headers, body = payment(platform_key)
    with pytest.raises(UnknownKeySerial):
        adapter.verify_and_parse(
            {**headers, "Wechatpay-Serial": "7132D72A03E93CDDF8C03BBD1F37EEDF204F12A9"}, body, SENT
        )


@pytest.mark.parametrize("skew", [301, -301, 3600, -86400])
def test_a_timestamp_more_than_300_s_away_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair, skew: int
) -> None:
    headers, body = payment(platform_key)
    with pytest.raises(TimestampOutOfTolerance):
        adapter.verify_and_parse(headers, body, SENT + timedelta(seconds=skew))


@pytest.mark.parametrize("skew", [300, -300])
def test_a_timestamp_exactly_300_s_away_is_accepted(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair, skew: int
) -> None:
    headers, body = payment(platform_key)
    assert (
        adapter.verify_and_parse(headers, body, SENT + timedelta(seconds=skew)).amount_fen == 40000
    )


def test_a_non_numeric_timestamp_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    headers, body = payment(platform_key)
    with pytest.raises(TimestampOutOfTolerance):
        adapter.verify_and_parse({**headers, "Wechatpay-Timestamp": "2024-12-01"}, body, SENT)


@pytest.mark.parametrize(
    "name", ["Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"]
)
def test_a_missing_header_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair, name: str
) -> None:
    headers, body = payment(platform_key)
    del headers[name]
    with pytest.raises(SignatureInvalid) as caught:
        adapter.verify_and_parse(headers, body, SENT)
    assert caught.value.code == "missing_header"


def test_an_unexpected_signature_type_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    headers, body = payment(platform_key)
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse(
            {**headers, "Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"}, body, SENT
        )


def test_a_resource_encrypted_with_another_apiv3_key_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    headers, body = sign_notification(
        platform_key=platform_key,
        serial=SERIAL,
        apiv3_key=random_apiv3_key(),
        event_type="TRANSACTION.SUCCESS",
        resource=wechat_transaction("CB1", 1, PAID, mchid=MCHID),
        timestamp=SENT,
    )
    with pytest.raises(PayloadInvalid) as caught:
        adapter.verify_and_parse(headers, body, SENT)
    assert caught.value.code == "decrypt_failed"


def _resign_envelope(
    platform_key: RsaKeyPair, body: bytes, change: dict[str, Any]
) -> tuple[dict[str, str], bytes]:
    envelope = json.loads(body)
    envelope.update(change)
    new_body = json.dumps(envelope).encode("utf-8")
    return sign_wechat_body(platform_key, SERIAL, new_body, SENT), new_body


def test_tampered_associated_data_fails_decryption(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    _, body = payment(platform_key)
    resource = json.loads(body)["resource"]
    headers, body = _resign_envelope(
        platform_key, body, {"resource": {**resource, "associated_data": "refund"}}
    )
    with pytest.raises(PayloadInvalid, match="decrypt"):
        adapter.verify_and_parse(headers, body, SENT)


def test_an_unsupported_algorithm_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    _, body = payment(platform_key)
    resource = json.loads(body)["resource"]
    headers, body = _resign_envelope(
        platform_key, body, {"resource": {**resource, "algorithm": "AES_128_CBC"}}
    )
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(headers, body, SENT)


@pytest.mark.parametrize("field", ["id", "event_type", "resource"])
def test_a_missing_envelope_field_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair, field: str
) -> None:
    _, body = payment(platform_key)
    envelope = json.loads(body)
    del envelope[field]
    new_body = json.dumps(envelope).encode("utf-8")
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(
            sign_wechat_body(platform_key, SERIAL, new_body, SENT), new_body, SENT
        )


def test_a_body_that_is_not_json_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    body = b"<xml><return_code>SUCCESS</return_code></xml>"
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(sign_wechat_body(platform_key, SERIAL, body, SENT), body, SENT)


@pytest.mark.parametrize(
    "amount",
    [
        {"total": 400.0, "currency": "CNY"},
        {"total": "40000", "currency": "CNY"},
        {"total": True, "currency": "CNY"},
        {"total": -1, "currency": "CNY"},
        {"total": 0, "currency": "CNY"},
        {"currency": "CNY"},
        {"total": 40000, "currency": "USD"},
    ],
)
def test_an_amount_that_is_not_a_positive_integer_of_fen_in_cny_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair, amount: dict[str, Any]
) -> None:
    headers, body = payment(platform_key, amount=amount)
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(headers, body, SENT)


@pytest.mark.parametrize(
    "field", ["out_trade_no", "transaction_id", "success_time", "trade_state", "amount"]
)
def test_a_missing_transaction_field_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair, field: str
) -> None:
    headers, body = payment(platform_key, **{field: None})
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(headers, body, SENT)


def test_a_success_time_without_offset_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    headers, body = payment(platform_key, success_time="2024-12-01T10:00:00")
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(headers, body, SENT)


def test_another_merchants_transaction_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    headers, body = payment(platform_key, mchid="1230000109")
    with pytest.raises(PayloadInvalid) as caught:
        adapter.verify_and_parse(headers, body, SENT)
    assert caught.value.code == "wrong_merchant"


def test_a_transaction_success_event_with_another_trade_state_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    headers, body = payment(platform_key, trade_state="NOTPAY")
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(headers, body, SENT)


def test_an_unhandled_event_type_is_rejected(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    headers, body = sign_notification(
        platform_key=platform_key,
        serial=SERIAL,
        apiv3_key=APIV3_KEY,
        event_type="MCHTRANSFER.BILL.FINISHED",
        resource={"mchid": MCHID},
        timestamp=SENT,
    )
    with pytest.raises(PayloadInvalid) as caught:
        adapter.verify_and_parse(headers, body, SENT)
    assert caught.value.code == "unsupported_event"


def test_now_must_be_aware(adapter: WeChatPayAdapter, platform_key: RsaKeyPair) -> None:
    headers, body = payment(platform_key)
    with pytest.raises(ValueError):
        adapter.verify_and_parse(headers, body, SENT.replace(tzinfo=None))


def test_config_refuses_an_apiv3_key_of_the_wrong_length(platform_key: RsaKeyPair) -> None:
    with pytest.raises(ValueError):
        WeChatPayAdapter(
            WeChatPayConfig(platform_keys={SERIAL: platform_key.public_pem}, apiv3_key="short")
        )


def test_answers(adapter: WeChatPayAdapter) -> None:
    assert adapter.success_response() == (204, None, b"")
    status, content_type, body = adapter.failure_response(SignatureInvalid("bad signature"))
    assert (
        status == 401 and content_type is not None and content_type.startswith("application/json")
    )
    assert json.loads(body) == {"code": "FAIL", "message": "bad signature"}
    assert adapter.failure_response(PayloadInvalid("x")).status_code == 400
    internal = adapter.failure_response(RuntimeError("database password is hunter2"))
    assert internal.status_code == 500 and b"hunter2" not in internal.body


# --- cross-checks against the wechatpayv3 SDK ---------------------------------------------


def _sdk() -> Any:
    return pytest.importorskip(
        "wechatpayv3", reason="wechatpayv3 is not installed; SDK cross-check skipped"
    )


def test_the_sdk_verifies_and_decrypts_our_notification(platform_key: RsaKeyPair) -> None:
    sdk = _sdk()
    merchant_key = RsaKeyPair.generate()
    client = sdk.WeChatPay(
        wechatpay_type=sdk.WeChatPayType.MINIPROG,
        mchid=MCHID,
        private_key=merchant_key.private_pem_pkcs8,
        cert_serial_no="MERCHANTSERIAL",
        appid="wxd678efh567hg6787",
        apiv3_key=APIV3_KEY,
        public_key=platform_key.public_pem,
        public_key_id=SERIAL,
    )
    headers, body = payment(platform_key)
    decoded = client.callback(headers, body)
    assert decoded is not None, "the SDK refused a notification we built"
    assert decoded["resource"]["out_trade_no"] == "CB2025370481000000001"
    assert decoded["resource"]["amount"]["total"] == 40000


def test_we_accept_a_notification_signed_by_the_sdk(
    adapter: WeChatPayAdapter, platform_key: RsaKeyPair
) -> None:
    utils = pytest.importorskip(
        "wechatpayv3.utils", reason="wechatpayv3 is not installed; SDK cross-check skipped"
    )
    headers, body = payment(platform_key)
    stamp, nonce = headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"]
    sdk_signature = utils.rsa_sign(
        platform_key.private_key, f"{stamp}\n{nonce}\n{body.decode('utf-8')}\n"
    )
    assert base64.b64decode(sdk_signature)
    note = adapter.verify_and_parse({**headers, "Wechatpay-Signature": sdk_signature}, body, SENT)
    assert note.amount_fen == 40000
    resource = json.loads(body)["resource"]
    plaintext = utils.aes_decrypt(
        resource["nonce"], resource["ciphertext"], resource["associated_data"], APIV3_KEY
    )
    assert json.loads(plaintext)["transaction_id"] == note.channel_txn_id
