"""The base of every event contract: a frozen Pydantic model that knows its topic, its type and
version, and which of its fields is the Kafka partition key.

A model is the payload (CloudEvents `data`) of one event type at one version. Its JSON form
(`wire()`) is exactly what travels: dates as `YYYY-MM-DD`, timestamps as ISO 8601 with their
offset (`datetime.isoformat()`), uuids as text, amounts as integer fen."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

# Timestamps travel as `datetime.isoformat()` ("2024-10-08T10:00:00+00:00"), as they always
# have; pydantic's own JSON form would write "Z" for UTC.
Timestamp = Annotated[dt.datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str,
                                                   when_used="json")]
Fen = Annotated[int, Field(description="integer fen (分)")]
RegionCode = Annotated[str, Field(pattern=r"^\d{6}(\d{6})?$",
                                  description="6- or 12-digit division code")]

_TYPE = re.compile(r"^(?P<name>[a-z_]+\.[a-z_]+)\.v(?P<version>\d+)$")


class EventModel(BaseModel):
    """One event type at one version. Subclasses set TOPIC, TYPE (`<service>.<name>.v<n>`) and
    KEY (the field whose value is the partition key; None: no key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    TOPIC: ClassVar[str]
    TYPE: ClassVar[str]
    KEY: ClassVar[str | None] = None
    KEY_DOC: ClassVar[str | None] = None  # what the key is, where `key()` is not one field
    # a payload as it travels, shown in docs/EVENTS.md (a test validates it)
    EXAMPLE: ClassVar[dict[str, Any]] = {}

    @classmethod
    def event_name(cls) -> str:
        """`registration.person_registered` for TYPE `registration.person_registered.v1`."""
        return _parse(cls.TYPE)[0]

    @classmethod
    def type_version(cls) -> int:
        """The event type's version: 1 for `....v1` (a payload may have a field `version`)."""
        return _parse(cls.TYPE)[1]

    def key(self) -> str | None:
        """The partition key: the KEY field's value as text (None when there is none)."""
        if self.KEY is None:
            return None
        value = getattr(self, self.KEY)
        return None if value is None else str(value)

    def wire(self) -> dict[str, Any]:
        """The payload as JSON-ready values, as it travels."""
        return self.model_dump(mode="json")


class Part(BaseModel):
    """A nested object of a payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _parse(event_type: str) -> tuple[str, int]:
    match = _TYPE.fullmatch(event_type)
    if match is None:
        raise ValueError(f"not an event type of the form <service>.<name>.v<n>: {event_type!r}")
    return match["name"], int(match["version"])
