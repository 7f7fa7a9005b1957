"""The CloudEvents Kafka binding: what the relay sends is what consumers read back, and a
message that is not a CloudEvent is refused as malformed (it goes to the dead-letter topic)."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from shared.events import CloudEvent, MalformedEvent, kafka_binding


def test_round_trip_keeps_every_attribute() -> None:
    event = CloudEvent(source="canbao/payments", type="payments.payment_received.v1",
                       subject="ORD-1", partitionkey="person-1", correlationid="req-9",
                       time=dt.datetime(2026, 12, 5, 8, 30, tzinfo=dt.UTC),
                       data={"amount_fen": 40000})
    key, value, headers = event.to_kafka()
    back = CloudEvent.from_kafka(key, value, headers)
    assert back == event
    assert isinstance(back.time, dt.datetime) and back.time.tzinfo is not None


def test_the_relays_binding_is_the_models() -> None:
    """The relay builds headers from the outbox row's columns without a model: the same key
    and headers as the model's own binding."""
    event = CloudEvent(source="canbao/reporting", type="x.v1", partitionkey="k")
    key, _, headers = event.to_kafka()
    assert kafka_binding(id=event.id, source=event.source, type=event.type, time=event.time,
                         partitionkey="k") == (key, headers)


@pytest.mark.parametrize(("change", "reason"), [
    (lambda k, v, h: (k, b"[1, 2]", h), "not a JSON object"),
    (lambda k, v, h: (k, b"{", h), "JSONDecodeError"),
    (lambda k, v, h: (k, v, [x for x in h if x[0] != "ce_source"]), "ce_source"),
    (lambda k, v, h: (k, v, [(n, b"0.3") if n == "ce_specversion" else (n, r) for n, r in h]),
     "specversion"),
    (lambda k, v, h: (k, v, [(n, b"yesterday") if n == "ce_time" else (n, r) for n, r in h]),
     "ValidationError"),
    (lambda k, v, h: (k, v, [(n, b"\xff") if n == "ce_type" else (n, r) for n, r in h]),
     "UnicodeDecodeError"),
])
def test_malformed_messages_are_refused(change, reason: str) -> None:  # noqa: ANN001
    key, value, headers = CloudEvent(source="s", type="t", data={"a": 1}).to_kafka()
    with pytest.raises(MalformedEvent, match=reason):
        CloudEvent.from_kafka(*change(key, value, headers))


def test_unknown_extension_attributes_are_ignored() -> None:
    key, value, headers = CloudEvent(source="s", type="t").to_kafka()
    event = CloudEvent.from_kafka(key, value, [*headers, ("ce_traceparent", b"00-abc")])
    assert orjson.loads(value) == event.data and not hasattr(event, "traceparent")
