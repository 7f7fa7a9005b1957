from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.payments.channels import (
    ChannelRejected,
    PayloadInvalid,
    PaymentNotification,
    SignatureInvalid,
    TimestampOutOfTolerance,
    UnknownKeySerial,
)

PAID = datetime(2024, 12, 1, 2, 0, tzinfo=UTC)


def notification(**changes: object) -> PaymentNotification:
    fields: dict[str, object] = {
        "channel": "wechatpay",
        "event_id": "EV1",
        "kind": "payment",
        "channel_txn_id": "42000",
        "order_no": "CB1",
        "amount_fen": 40000,
        "paid_at": PAID,
        "status": "succeeded",
        "raw": {},
    }
    fields.update(changes)
    return PaymentNotification(**fields)  # type: ignore[arg-type]


def test_a_notification_is_frozen() -> None:
    note = notification()
    with pytest.raises(dataclasses.FrozenInstanceError):
        note.amount_fen = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "changes",
    [
        {"paid_at": PAID.replace(tzinfo=None)},
        {"paid_at": PAID.astimezone(timezone(timedelta(hours=8)))},
        {"amount_fen": 400.0},
        {"amount_fen": -1},
        {"amount_fen": True},
    ],
)
def test_a_notification_refuses_local_times_and_non_fen_amounts(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        notification(**changes)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (SignatureInvalid("x"), "signature_invalid"),
        (TimestampOutOfTolerance("x"), "timestamp_out_of_tolerance"),
        (UnknownKeySerial("x"), "unknown_key_serial"),
        (PayloadInvalid("x"), "payload_invalid"),
        (PayloadInvalid("x", "bad_amount"), "bad_amount"),
    ],
)
def test_every_rejection_is_a_channel_rejection_with_a_stable_code(
    error: ChannelRejected, code: str
) -> None:
    assert isinstance(error, ChannelRejected)
    assert (error.reason, error.code) == ("x", code)
