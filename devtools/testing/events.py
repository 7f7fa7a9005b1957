"""Test factories of events: a CloudEvent from an event model (contracts/), as the outbox relay
would publish it, so test events are built and checked by the same models as real ones."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from contracts.base import EventModel
from shared.events import CloudEvent


def cloud_event(model: EventModel, *, id: str | None = None, time: dt.datetime | None = None,
                source: str | None = None, **envelope: Any) -> CloudEvent:
    """The envelope of `model`: its type, its partition key, `canbao/<producing service>` as
    the source (unless given), its JSON payload."""
    return CloudEvent(
        id=id or str(uuid.uuid4()),
        source=source or f"canbao/{model.TYPE.split('.', 1)[0]}",
        type=model.TYPE,
        time=time or dt.datetime.now(dt.UTC),
        partitionkey=model.key(),
        data=model.wire(),
        **envelope,
    )


def assert_holds(model: type[EventModel], data: dict[str, Any]) -> EventModel:
    """`data`, a payload as a producer wrote it (built in SQL, say), holds to `model`: the model
    validates it, it has exactly the model's fields, and each travels as the model writes it
    (timestamps compared as instants: PostgreSQL drops trailing zeros of the microseconds)."""
    event = model.model_validate(data)
    wire = event.wire()
    assert set(wire) == set(data), (model.TYPE, set(wire) ^ set(data))
    for name, value in wire.items():
        if value != data[name]:
            assert isinstance(getattr(event, name), dt.datetime), (model.TYPE, name, data[name])
            assert dt.datetime.fromisoformat(data[name]) == getattr(event, name)
    return event
