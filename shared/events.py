"""CloudEvents 1.0 envelope and its Kafka binary-mode binding.

In binary mode the event attributes travel as `ce_*` headers, the payload as the
message value and the partition key as the message key. Identical `source` + `id`
means the same event: consumers deduplicate on that pair.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

CONTENT_TYPE = "application/json"


class MalformedEvent(ValueError):
    """A Kafka message that is not a CloudEvent we can read; it goes to the dead-letter topic."""


def kafka_binding(*, id: str, source: str, type: str, time: dt.datetime,  # noqa: A002
                  subject: str | None = None, partitionkey: str | None = None,
                  correlationid: str | None = None, datacontenttype: str = CONTENT_TYPE,
                  specversion: str = "1.0") -> tuple[bytes | None, list[tuple[str, bytes]]]:
    """The message key and `ce_*` headers of an event's attributes (binary mode): what
    `CloudEvent.to_kafka` sends, for callers that hold the attributes without a model (the
    outbox relay, tens of thousands of events a second)."""
    headers = [
        ("ce_specversion", specversion.encode()),
        ("ce_id", id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", type.encode()),
        ("ce_time", time.isoformat().encode()),
        ("content-type", datacontenttype.encode()),
    ]
    if subject:
        headers.append(("ce_subject", subject.encode()))
    if correlationid:
        headers.append(("ce_correlationid", correlationid.encode()))
    return (partitionkey.encode() if partitionkey else None), headers


# the binary-mode headers of the attributes every event carries (a dict lookup per header, where
# the consumer decodes tens of thousands of events a second)
_HEADER_ATTRIBUTES = {f"ce_{a}": a for a in ("specversion", "id", "source", "type", "time",
                                             "subject", "partitionkey", "correlationid")}
_HEADER_ATTRIBUTES["content-type"] = "datacontenttype"


class CloudEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    time: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    subject: str | None = None
    datacontenttype: str = CONTENT_TYPE
    specversion: str = "1.0"
    data: dict[str, Any] = Field(default_factory=dict)
    # Extension attributes: the partition key (an opaque aggregate id) and the
    # correlation id that ties an event to the request that caused it.
    partitionkey: str | None = None
    correlationid: str | None = None

    def to_kafka(self) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
        key, headers = kafka_binding(
            id=self.id, source=self.source, type=self.type, time=self.time,
            subject=self.subject, partitionkey=self.partitionkey,
            correlationid=self.correlationid, datacontenttype=self.datacontenttype,
            specversion=self.specversion)
        return key, orjson.dumps(self.data), headers

    @classmethod
    def from_kafka(
        cls, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]
    ) -> CloudEvent:
        attrs: dict[str, Any] = {}
        try:
            for name, raw in headers or ():
                attr = _HEADER_ATTRIBUTES.get(name)
                if attr is None:  # an extension attribute, or a header of someone else's
                    if not name.startswith("ce_"):
                        continue
                    attr = name[3:]
                attrs[attr] = raw.decode()
            for required in ("id", "source", "type", "specversion"):
                if not attrs.get(required):
                    raise MalformedEvent(f"missing CloudEvents attribute ce_{required}")
            if attrs["specversion"] != "1.0":
                raise MalformedEvent(f"unsupported specversion {attrs['specversion']}")
            data = orjson.loads(value) if value else {}
            if not isinstance(data, dict):
                raise MalformedEvent("event data is not a JSON object")
            attrs["data"] = data
            attrs["partitionkey"] = key.decode() if key else None
            return cls.model_validate(attrs)
        except MalformedEvent:
            raise
        except Exception as exc:  # undecodable bytes, bad JSON, bad time...
            raise MalformedEvent(f"{type(exc).__name__}: {exc}") from exc
