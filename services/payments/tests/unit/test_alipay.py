from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from devtools.channels.testing import (
    RsaKeyPair,
    alipay_form,
    alipay_payment_params,
    alipay_sign,
    alipay_time,
    utc,
)
from services.payments.channels import (
    AlipayAdapter,
    AlipayConfig,
    PayloadInvalid,
    RefundTerms,
    SignatureInvalid,
    TimestampOutOfTolerance,
    refund_terms,
)
from services.payments.channels.alipay import REQUIRED, refunded_trade_no, sign_content

APP_ID = "2021004100000001"
SELLER_ID = "2088102177846880"
PAID = utc(2024, 12, 1, 1, 0, 2)  # 09:00:02 in Beijing
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


@pytest.fixture
def adapter(platform_key: RsaKeyPair) -> AlipayAdapter:
    return AlipayAdapter(
        AlipayConfig(app_id=APP_ID, seller_id=SELLER_ID, alipay_public_key=platform_key.public_pem)
    )


def params(**changes: str | None) -> dict[str, str]:
    base = alipay_payment_params(
        app_id=APP_ID,
        seller_id=SELLER_ID,
        out_trade_no="CB2025370481000000011",
        total_amount="400.00",
        paid_at=PAID,
    )
    base.update({key: value for key, value in changes.items() if value is not None})
    for key in [key for key, value in changes.items() if value is None]:
        base.pop(key, None)
    return base


def signed_body(key: RsaKeyPair, **changes: str | None) -> bytes:
    return alipay_form(alipay_sign(params(**changes), key))


def test_a_payment_notification_becomes_a_normalized_payment(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    note = adapter.verify_and_parse(FORM, signed_body(platform_key), PAID + timedelta(seconds=3))
    assert note.channel == "alipay"
    assert note.event_id == "2024120100222100000000000000000001"
    assert (note.kind, note.status) == ("payment", "succeeded")
    assert note.order_no == "CB2025370481000000011"
    assert note.channel_txn_id == "2024120122001400001234567890"
    assert note.amount_fen == 40000
    assert note.paid_at == PAID  # gmt_payment 2024-12-01 09:00:02 Beijing time
    assert note.raw["trade_status"] == "TRADE_SUCCESS"


def test_trade_finished_is_a_payment(adapter: AlipayAdapter, platform_key: RsaKeyPair) -> None:
    note = adapter.verify_and_parse(
        FORM, signed_body(platform_key, trade_status="TRADE_FINISHED"), PAID
    )
    assert (note.kind, note.status, note.amount_fen) == ("payment", "succeeded", 40000)


def test_trade_success_with_refund_fee_is_a_refund(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    refunded = utc(2024, 12, 1, 6, 12, 45)
    body = signed_body(
        platform_key,
        refund_fee="150.00",
        # gmt_refund carries milliseconds in real notifications: "2024-12-01 14:12:45.320"
        gmt_refund=alipay_time(refunded) + ".320",
        out_biz_no="RF2025370481000000011",
        notify_time=alipay_time(refunded),
    )
    note = adapter.verify_and_parse(FORM, body, refunded)
    assert (note.kind, note.status, note.amount_fen) == ("refund", "succeeded", 15000)
    assert note.paid_at == refunded + timedelta(milliseconds=320)
    # the refund's own key: the trade and our refund request number (out_biz_no)
    assert note.channel_txn_id == "2024120122001400001234567890:RF2025370481000000011"
    assert refunded_trade_no(note.channel_txn_id) == "2024120122001400001234567890"


def test_two_partial_refunds_of_a_trade_are_distinct_and_carry_the_running_total(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    """refund_fee is the trade's cumulative refunded total (100.00, then 250.00): the adapter
    passes it on as it is; the processor books the difference (tested end to end)."""
    first_at, second_at = PAID + timedelta(hours=1), PAID + timedelta(hours=2)
    first = adapter.verify_and_parse(FORM, signed_body(
        platform_key, refund_fee="100.00", gmt_refund=alipay_time(first_at),
        out_biz_no="RF-1", notify_id="N-1", notify_time=alipay_time(first_at)), first_at)
    second = adapter.verify_and_parse(FORM, signed_body(
        platform_key, refund_fee="250.00", gmt_refund=alipay_time(second_at),
        out_biz_no="RF-2", notify_id="N-2", notify_time=alipay_time(second_at)), second_at)
    assert (first.amount_fen, second.amount_fen) == (10000, 25000)
    assert first.channel_txn_id != second.channel_txn_id
    assert {refunded_trade_no(first.channel_txn_id), refunded_trade_no(second.channel_txn_id)} \
        == {"2024120122001400001234567890"}


def test_a_refund_without_out_biz_no_is_keyed_by_its_running_total(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    body = signed_body(platform_key, refund_fee="100.00", gmt_refund=alipay_time(PAID))
    note = adapter.verify_and_parse(FORM, body, PAID)
    assert note.channel_txn_id == "2024120122001400001234567890:refund_fee=10000"


@pytest.mark.parametrize("stamp", ["2024/12/01 14:12:45", "2024-12-01T14:12:45", "yesterday"])
def test_a_payment_time_in_another_layout_is_rejected(
    adapter: AlipayAdapter, platform_key: RsaKeyPair, stamp: str
) -> None:
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(FORM, signed_body(platform_key, gmt_payment=stamp), PAID)


def test_trade_closed_is_a_close(adapter: AlipayAdapter, platform_key: RsaKeyPair) -> None:
    closed = PAID + timedelta(minutes=30)
    body = signed_body(
        platform_key, trade_status="TRADE_CLOSED", gmt_payment=None, gmt_close=alipay_time(closed)
    )
    note = adapter.verify_and_parse(FORM, body, closed)
    assert (note.kind, note.status, note.amount_fen, note.paid_at) == (
        "close",
        "closed",
        40000,
        closed,
    )


def test_trade_closed_after_a_full_refund_is_a_refund(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    refunded = PAID + timedelta(hours=2)
    body = signed_body(
        platform_key,
        trade_status="TRADE_CLOSED",
        refund_fee="400.00",
        gmt_refund=alipay_time(refunded),
        gmt_close=alipay_time(refunded),
    )
    note = adapter.verify_and_parse(FORM, body, refunded)
    assert (note.kind, note.amount_fen, note.paid_at) == ("refund", 40000, refunded)


def test_wait_buyer_pay_is_a_pending_payment(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    note = adapter.verify_and_parse(
        FORM, signed_body(platform_key, trade_status="WAIT_BUYER_PAY", gmt_payment=None), PAID
    )
    assert (note.kind, note.status) == ("payment", "pending")


def test_an_unknown_trade_status_is_rejected(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(
            FORM, signed_body(platform_key, trade_status="TRADE_PENDING"), PAID
        )


def test_a_signature_from_another_key_is_rejected(
    adapter: AlipayAdapter, other_key: RsaKeyPair
) -> None:
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse(FORM, signed_body(other_key), PAID)


def test_a_tampered_amount_is_rejected(adapter: AlipayAdapter, platform_key: RsaKeyPair) -> None:
    body = signed_body(platform_key)
    tampered = body.replace(b"total_amount=400.00", b"total_amount=4.00")
    assert tampered != body
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse(FORM, tampered, PAID)


def test_an_added_parameter_breaks_the_signature(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse(FORM, signed_body(platform_key) + b"&refund_fee=400.00", PAID)


def test_a_repeated_parameter_is_rejected(adapter: AlipayAdapter, platform_key: RsaKeyPair) -> None:
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(FORM, signed_body(platform_key) + b"&total_amount=1.00", PAID)


@pytest.mark.parametrize("sign_type", ["RSA", "rsa2", "", None])
def test_sign_type_must_be_rsa2(
    adapter: AlipayAdapter, platform_key: RsaKeyPair, sign_type: str | None
) -> None:
    signed = alipay_sign(params(), platform_key)
    if sign_type is None:
        del signed["sign_type"]
    else:
        signed["sign_type"] = sign_type
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse(FORM, alipay_form(signed), PAID)


def test_a_missing_or_garbled_sign_is_rejected(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    signed = alipay_sign(params(), platform_key)
    for sign in ("", "%%%not-base64%%%"):
        with pytest.raises(SignatureInvalid):
            adapter.verify_and_parse(FORM, alipay_form({**signed, "sign": sign}), PAID)


def test_another_app_is_rejected(adapter: AlipayAdapter, platform_key: RsaKeyPair) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        adapter.verify_and_parse(FORM, signed_body(platform_key, app_id="2021009999999999"), PAID)
    assert caught.value.code == "wrong_app_id"


def test_another_seller_is_rejected(adapter: AlipayAdapter, platform_key: RsaKeyPair) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        adapter.verify_and_parse(
            FORM, signed_body(platform_key, seller_id="2088000000000000"), PAID
        )
    assert caught.value.code == "wrong_seller_id"


@pytest.mark.parametrize(
    "amount",
    [
        "1.001",
        "1e2",
        "1E2",
        "400.0000001",
        "0.30000000000000004",
        "-400.00",
        "+400.00",
        "400.",
        ".5",
        "1,000.00",
        "NaN",
        "Infinity",
        "４００.００",
        " 400.00",
        "400.00 ",
        "0x190",
        "",
    ],
)
def test_an_amount_that_is_not_exact_yuan_is_rejected(
    adapter: AlipayAdapter, platform_key: RsaKeyPair, amount: str
) -> None:
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(FORM, signed_body(platform_key, total_amount=amount), PAID)


@pytest.mark.parametrize("amount", ["1.001", "1e2", "-1.00", "1.0.0"])
def test_a_bad_refund_fee_is_rejected(
    adapter: AlipayAdapter, platform_key: RsaKeyPair, amount: str
) -> None:
    body = signed_body(platform_key, refund_fee=amount, gmt_refund=alipay_time(PAID))
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(FORM, body, PAID)


def test_a_zero_refund_fee_means_no_refund(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    body = signed_body(platform_key, refund_fee="0.00")
    assert adapter.verify_and_parse(FORM, body, PAID).kind == "payment"


def test_a_refund_larger_than_the_trade_is_rejected(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    body = signed_body(platform_key, refund_fee="400.01", gmt_refund=alipay_time(PAID))
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(FORM, body, PAID)


@pytest.mark.parametrize("field", [f for f in REQUIRED] + ["gmt_payment"])
def test_a_missing_field_is_rejected(
    adapter: AlipayAdapter, platform_key: RsaKeyPair, field: str
) -> None:
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(FORM, signed_body(platform_key, **{field: None}), PAID)


def test_a_refund_without_gmt_refund_is_rejected(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(FORM, signed_body(platform_key, refund_fee="10.00"), PAID)


def test_another_notify_type_is_rejected(adapter: AlipayAdapter, platform_key: RsaKeyPair) -> None:
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(
            FORM, signed_body(platform_key, notify_type="fund_auth_freeze"), PAID
        )


@pytest.mark.parametrize(
    "skew", [timedelta(hours=48, seconds=1), timedelta(days=30), -timedelta(seconds=301)]
)
def test_a_notification_too_old_or_from_the_future_is_rejected(
    adapter: AlipayAdapter, platform_key: RsaKeyPair, skew: timedelta
) -> None:
    with pytest.raises(TimestampOutOfTolerance):
        adapter.verify_and_parse(FORM, signed_body(platform_key), PAID + skew)


def test_a_retry_a_day_later_is_still_accepted(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    assert (
        adapter.verify_and_parse(
            FORM, signed_body(platform_key), PAID + timedelta(hours=25)
        ).amount_fen
        == 40000
    )


def test_blank_values_are_part_of_the_signed_content(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    with_blank = params(body="", passback_params="")
    content = sign_content(with_blank)
    assert "&body=&" in content and "&passback_params=&" in content
    assert (
        adapter.verify_and_parse(
            FORM, alipay_form(alipay_sign(with_blank, platform_key)), PAID
        ).amount_fen
        == 40000
    )
    # A sender that dropped the blanks from the signed string does not verify.
    without_blank = {key: value for key, value in with_blank.items() if value}
    signature = platform_key.sign_sha256(sign_content(without_blank).encode("utf-8"))
    forged = {**with_blank, "sign": signature, "sign_type": "RSA2"}
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse(FORM, alipay_form(forged), PAID)


def test_a_gbk_notification_verifies(adapter: AlipayAdapter, platform_key: RsaKeyPair) -> None:
    gbk = params(charset="gbk")
    body = alipay_form(alipay_sign(gbk, platform_key, charset="gbk"), charset="gbk")
    headers = {"content-type": "application/x-www-form-urlencoded; charset=GBK"}
    note = adapter.verify_and_parse(headers, body, PAID)
    assert note.raw["subject"] == "2025年度城乡居民医保缴费"


def test_a_body_that_is_not_a_form_is_rejected(adapter: AlipayAdapter) -> None:
    for body in (
        b'{"trade_status": "TRADE_SUCCESS"}',
        "trade_status=成功".encode(),
        b"a=%ZZ&b",
    ):
        with pytest.raises((PayloadInvalid, SignatureInvalid)):
            adapter.verify_and_parse(FORM, body, PAID)


def test_the_bare_base64_key_from_the_console_is_accepted(platform_key: RsaKeyPair) -> None:
    bare = "".join(line for line in platform_key.public_pem.splitlines() if "-----" not in line)
    adapter = AlipayAdapter(
        AlipayConfig(app_id=APP_ID, seller_id=SELLER_ID, alipay_public_key=bare)
    )
    assert adapter.verify_and_parse(FORM, signed_body(platform_key), PAID).amount_fen == 40000


def test_answers(adapter: AlipayAdapter) -> None:
    assert adapter.success_response() == (200, "text/plain; charset=utf-8", b"success")
    status, _, body = adapter.failure_response(SignatureInvalid("bad"))
    assert (status, body) == (401, b"fail")
    assert adapter.failure_response(RuntimeError("boom")).body == b"fail"


# --- cross-checks against alipay-sdk-python -------------------------------------------------


def _sdk() -> Any:
    return pytest.importorskip(
        "alipay.aop.api.util.SignatureUtils",
        reason="alipay-sdk-python is not installed; SDK cross-check skipped",
    )


def test_our_sign_content_is_the_sdks(platform_key: RsaKeyPair) -> None:
    sdk = _sdk()
    received = alipay_sign(params(body="", refund_fee="1.00"), platform_key)
    unsigned = {key: value for key, value in received.items() if key not in ("sign", "sign_type")}
    assert sdk.get_sign_content(unsigned) == sign_content(received)


def test_we_accept_what_the_sdk_signs(adapter: AlipayAdapter, platform_key: RsaKeyPair) -> None:
    sdk = _sdk()
    unsigned = params(body="")
    sign = sdk.sign_with_rsa2(
        platform_key.private_pem_pkcs1, sdk.get_sign_content(unsigned), "utf-8"
    )
    body = urlencode({**unsigned, "sign": sign, "sign_type": "RSA2"}).encode("ascii")
    assert adapter.verify_and_parse(FORM, body, PAID).amount_fen == 40000


def test_the_sdk_verifies_what_our_helper_signs(
    platform_key: RsaKeyPair, other_key: RsaKeyPair
) -> None:
    sdk = _sdk()
    rsa_lib = pytest.importorskip("rsa", reason="the SDK's rsa dependency is missing")
    signed = alipay_sign(params(), platform_key)
    message = sign_content(signed).encode("utf-8")
    assert sdk.verify_with_rsa(platform_key.public_pem, message, signed["sign"]) is True
    with pytest.raises(rsa_lib.VerificationError):
        sdk.verify_with_rsa(other_key.public_pem, message, signed["sign"])


def test_the_alipay_module_says_what_its_refunds_mean_for_the_ledger(
    adapter: AlipayAdapter, platform_key: RsaKeyPair
) -> None:
    """A notified refund names its trade and carries the trade's running total; a statement
    line of the same refund is its own amount, already counted in a later running total.
    Posting reads this from `refund_terms`, never from the channel's name."""
    at = PAID + timedelta(hours=1)
    note = adapter.verify_and_parse(FORM, signed_body(
        platform_key, refund_fee="100.00", gmt_refund=alipay_time(at), out_biz_no="RF-1",
        notify_time=alipay_time(at)), at)
    assert note.refunds_txn_id == "2024120122001400001234567890"
    item = {"channel": note.channel, "channel_txn_id": note.channel_txn_id,
            "refunds_txn_id": note.refunds_txn_id, "origin": "webhook"}
    assert refund_terms(item) == RefundTerms(
        refunded_txn_id="2024120122001400001234567890", amount_is_running_total=True,
        totals_cover_earlier_lines=True)
    # a work item queued before refunds_txn_id named the trade reads the same
    assert refund_terms({**item, "refunds_txn_id": note.channel_txn_id}).refunded_txn_id == \
        "2024120122001400001234567890"
    line = refund_terms({**item, "origin": "statement"})
    assert (line.amount_is_running_total, line.totals_cover_earlier_lines) == (False, True)


def test_another_channels_refund_is_its_own_amount() -> None:
    terms = refund_terms({"channel": "bank_ccb", "channel_txn_id": "R1",
                          "refunds_txn_id": "P1", "origin": "webhook"})
    assert terms == RefundTerms(refunded_txn_id="P1")
