from __future__ import annotations

import base64
import hmac
import json
import os
from datetime import timedelta
from typing import Any

import pytest

from devtools.channels.testing import utc
from services.payments.channels import (
    PayloadInvalid,
    SignatureInvalid,
    StandardWebhooksAdapter,
    StandardWebhooksConfig,
    TimestampOutOfTolerance,
)
from services.payments.channels.standard_webhooks import secret_key, sign, signed_headers

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode("ascii")
OLD_SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode("ascii")
SENT = utc(2024, 12, 1, 2, 0, 0)
STAMP = int(SENT.timestamp())
MSG_ID = "msg_2pWvSeqqk4ZJ1kSQvMo2vqzZpVc"


@pytest.fixture
def adapter() -> StandardWebhooksAdapter:
    return StandardWebhooksAdapter(
        StandardWebhooksConfig(channel="bank_ccb", secrets=[SECRET, OLD_SECRET])
    )


def event(**data_changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "order_no": "CB2025370481000000021",
        "channel_txn_id": "CCB2024120100000001",
        "amount_fen": 40000,
        "paid_at": "2024-12-01T09:59:58+08:00",
    }
    data.update(data_changes)
    return {"type": "payment.succeeded", "timestamp": "2024-12-01T02:00:00Z", "data": data}


def deliver(
    payload: dict[str, Any], secret: str = SECRET, stamp: int = STAMP
) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return signed_headers(secret, MSG_ID, stamp, body), body


def test_the_spec_test_vector() -> None:
    # From the Standard Webhooks specification and its reference libraries.
    assert (
        sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_payment_becomes_a_normalized_payment(adapter: StandardWebhooksAdapter) -> None:
    headers, body = deliver(event())
    note = adapter.verify_and_parse(headers, body, SENT + timedelta(seconds=1))
    assert note.channel == "bank_ccb"
    assert note.event_id == MSG_ID
    assert (note.kind, note.status) == ("payment", "succeeded")
    assert (note.order_no, note.channel_txn_id, note.amount_fen) == (
        "CB2025370481000000021",
        "CCB2024120100000001",
        40000,
    )
    assert note.paid_at == utc(2024, 12, 1, 1, 59, 58)
    assert note.raw["data"]["amount_fen"] == 40000


@pytest.mark.parametrize(
    ("event_type", "kind", "status"),
    [("payment.refunded", "refund", "succeeded"), ("payment.closed", "close", "closed"),
     ("payment.reversed", "reversal", "succeeded")],
)
def test_refunds_and_closes(
    adapter: StandardWebhooksAdapter, event_type: str, kind: str, status: str
) -> None:
    headers, body = deliver({**event(), "type": event_type})
    note = adapter.verify_and_parse(headers, body, SENT)
    assert (note.kind, note.status) == (kind, status)


def test_a_closed_payment_may_carry_zero(adapter: StandardWebhooksAdapter) -> None:
    headers, body = deliver({**event(amount_fen=0), "type": "payment.closed"})
    assert adapter.verify_and_parse(headers, body, SENT).amount_fen == 0


def test_a_message_signed_with_the_previous_secret_is_accepted_while_rotating(
    adapter: StandardWebhooksAdapter,
) -> None:
    headers, body = deliver(event(), secret=OLD_SECRET)
    assert adapter.verify_and_parse(headers, body, SENT).amount_fen == 40000


def test_any_matching_entry_in_a_signature_list_is_enough(adapter: StandardWebhooksAdapter) -> None:
    headers, body = deliver(event())
    wrong = sign("whsec_" + base64.b64encode(os.urandom(32)).decode(), MSG_ID, STAMP, body)
    headers["webhook-signature"] = f"v1a,abc= {wrong} {headers['webhook-signature']}"
    assert adapter.verify_and_parse(headers, body, SENT).amount_fen == 40000


def test_signatures_are_compared_in_constant_time(
    adapter: StandardWebhooksAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    headers, body = deliver(event())
    adapter.verify_and_parse(headers, body, SENT)
    assert calls


def test_an_unknown_secret_is_rejected(adapter: StandardWebhooksAdapter) -> None:
    headers, body = deliver(event(), secret="whsec_" + base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse(headers, body, SENT)


def test_a_tampered_body_is_rejected(adapter: StandardWebhooksAdapter) -> None:
    headers, body = deliver(event())
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse(headers, body.replace(b"40000", b"40001"), SENT)


def test_the_signature_binds_the_id_and_the_timestamp(adapter: StandardWebhooksAdapter) -> None:
    headers, body = deliver(event())
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse({**headers, "webhook-id": "msg_other"}, body, SENT)
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse({**headers, "webhook-timestamp": str(STAMP + 1)}, body, SENT)


@pytest.mark.parametrize(
    "value", ["", "v1,", "v1,not base64!", "v2," + base64.b64encode(b"x" * 32).decode()]
)
def test_a_malformed_signature_header_is_rejected(
    adapter: StandardWebhooksAdapter, value: str
) -> None:
    headers, body = deliver(event())
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse({**headers, "webhook-signature": value}, body, SENT)


@pytest.mark.parametrize("skew", [301, -301, 86400])
def test_a_stale_or_future_timestamp_is_rejected(
    adapter: StandardWebhooksAdapter, skew: int
) -> None:
    headers, body = deliver(event())
    with pytest.raises(TimestampOutOfTolerance):
        adapter.verify_and_parse(headers, body, SENT + timedelta(seconds=skew))


@pytest.mark.parametrize("skew", [300, -300])
def test_the_tolerance_edge_is_accepted(adapter: StandardWebhooksAdapter, skew: int) -> None:
    headers, body = deliver(event())
    assert (
        adapter.verify_and_parse(headers, body, SENT + timedelta(seconds=skew)).amount_fen == 40000
    )


@pytest.mark.parametrize("stamp", ["1733018400.5", "-1", "2024-12-01T02:00:00Z", "1e9"])
def test_a_timestamp_that_is_not_unix_seconds_is_rejected(
    adapter: StandardWebhooksAdapter, stamp: str
) -> None:
    headers, body = deliver(event())
    with pytest.raises(TimestampOutOfTolerance):
        adapter.verify_and_parse({**headers, "webhook-timestamp": stamp}, body, SENT)


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_rejected(adapter: StandardWebhooksAdapter, name: str) -> None:
    headers, body = deliver(event())
    del headers[name]
    with pytest.raises(SignatureInvalid):
        adapter.verify_and_parse(headers, body, SENT)


def test_headers_are_case_insensitive(adapter: StandardWebhooksAdapter) -> None:
    headers, body = deliver(event())
    upper = {key.title(): value for key, value in headers.items()}
    assert adapter.verify_and_parse(upper, body, SENT).event_id == MSG_ID


@pytest.mark.parametrize(
    "payload",
    [
        event(amount_fen=400.0),
        event(amount_fen="40000"),
        event(amount_fen=True),
        event(amount_fen=-1),
        event(amount_fen=0),
        event(paid_at="2024-12-01T09:59:58"),
        event(paid_at="yesterday"),
        event(order_no=""),
        event(order_no=12345),
        event(surprise="field"),
        {**event(), "type": "payment.disputed"},
        {"type": "payment.succeeded"},
        {k: v for k, v in event().items() if k != "type"},
        {**event(), "extra": 1},
    ]
    + [
        {**event(), "data": {k: v for k, v in event()["data"].items() if k != field}}
        for field in ("order_no", "channel_txn_id", "amount_fen", "paid_at")
    ],
)
def test_a_body_outside_the_schema_is_rejected(
    adapter: StandardWebhooksAdapter, payload: dict[str, Any]
) -> None:
    headers, body = deliver(payload)
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(headers, body, SENT)


def test_a_body_that_is_not_json_is_rejected(adapter: StandardWebhooksAdapter) -> None:
    body = b"order_no=CB1&amount=400"
    with pytest.raises(PayloadInvalid):
        adapter.verify_and_parse(signed_headers(SECRET, MSG_ID, STAMP, body), body, SENT)


@pytest.mark.parametrize(
    "secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!", "whsec_c2hvcnQ="]
)
def test_bad_secrets_are_refused_at_configuration(secret: str) -> None:
    with pytest.raises(ValueError):
        secret_key(secret)


def test_answers(adapter: StandardWebhooksAdapter) -> None:
    assert adapter.success_response() == (204, None, b"")
    status, content_type, body = adapter.failure_response(TimestampOutOfTolerance("too old"))
    assert status == 401 and content_type == "application/json; charset=utf-8"
    assert json.loads(body) == {"code": "timestamp_out_of_tolerance", "message": "too old"}
    assert adapter.failure_response(PayloadInvalid("bad", "bad_amount")).status_code == 400
