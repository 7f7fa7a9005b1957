"""Typed event contracts: one Pydantic model per event type and version, one module per
producing service (registration, eligibility, payments; reporting publishes nothing).

Producers hand models to the outbox (`shared.outbox.Outbox.add`), which serialises them;
consumers declare the models they handle (`shared.inbox.EventRouter.on`) and receive them
validated. `REGISTRY` maps (topic, event type, version) to the model; docs/EVENTS.md is made
from these models by `python -m contracts.docs`."""

from __future__ import annotations

from contracts import eligibility, payments, plan, registration
from contracts.base import EventModel

MODELS: tuple[type[EventModel], ...] = (*registration.EVENTS, *eligibility.EVENTS,
                                        *plan.EVENTS, *payments.EVENTS)

REGISTRY: dict[tuple[str, str, int], type[EventModel]] = {
    (m.TOPIC, m.event_name(), m.type_version()): m for m in MODELS}

_BY_TYPE: dict[str, type[EventModel]] = {m.TYPE: m for m in MODELS}


class UnknownEventType(LookupError):
    """No contract for this event type and version."""


def model_for(event_type: str) -> type[EventModel]:
    """The model of a CloudEvents `type` (`registration.person_registered.v1`)."""
    try:
        return _BY_TYPE[event_type]
    except KeyError:
        raise UnknownEventType(f"no event contract for {event_type!r}") from None


def parse(event_type: str, data: dict) -> EventModel:  # type: ignore[type-arg]
    """The payload of an event of `event_type`, validated by its model."""
    return model_for(event_type).model_validate(data)


__all__ = ["MODELS", "REGISTRY", "EventModel", "UnknownEventType", "model_for", "parse"]
