"""docs/EVENTS.md, written from the event models: `python -m contracts.docs` rewrites it,
`python -m contracts.docs --check` fails when the checked-in file differs (a test runs that)."""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import json
import sys
import types
import typing
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from contracts import MODELS
from contracts.base import EventModel, Part
from shared.topics import PRODUCED_BY

OUT = Path(__file__).resolve().parent.parent / "docs" / "EVENTS.md"

HEADER = """\
# Event contracts

<!-- Generated from the models in contracts/ by `python -m contracts.docs`; do not edit. -->

Every event is a CloudEvents 1.0 envelope (binary mode on Kafka: `ce_*` headers, JSON data as
the value, the partition key as the message key). Each event type and version has one Pydantic
model in `contracts/` (a module per producing service); topic names are in `shared/topics.py`.
Producers give the outbox a model (`shared.outbox.Outbox.add`), consumers name the models they
handle (`shared.inbox.EventRouter.on`) and receive them validated; a payload its model refuses
goes to the consumer's dead-letter topic. Amounts are integer fen; dates ISO `YYYY-MM-DD`;
timestamps ISO 8601 with offset. ID numbers and names never travel in the clear: events carry
the opaque `person_id`, a keyed hash (`id_number_hash`, see `shared/pii.py`) and masked forms.

Consumers must tolerate duplicates (the inbox absorbs exact redeliveries) and reordering across
topics: each payload carries a `revision` that only grows for its aggregate, so a consumer
ignores an event whose revision is not newer than what it holds. A field that changes meaning or
type makes a new version (`.v2`) with its own model.
"""


def type_name(annotation: Any) -> str:
    """A field's type as the reader of the JSON sees it."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        parts = [type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(parts) + (" \\| null" if type(None) in args else "")
    if origin is typing.Literal:
        return " \\| ".join(f'`"{a}"`' if isinstance(a, str) else f"`{a}`" for a in args)
    if origin is list:
        return f"list of {type_name(args[0])}"
    if origin is dict:
        return "object"
    if inspect.isclass(annotation):
        if issubclass(annotation, BaseModel):
            return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
        if issubclass(annotation, enum.Enum):
            return " \\| ".join(f"`{m.value}`" for m in annotation)
        return {uuid.UUID: "uuid", dt.datetime: "timestamp", dt.date: "date", int: "integer",
                str: "string", bool: "boolean", float: "number"}.get(annotation,
                                                                      annotation.__name__)
    return str(annotation)


def _doc(cls: type) -> str:
    return inspect.cleandoc(cls.__doc__ or "") if "__doc__" in cls.__dict__ else ""


def _fields(model: type[BaseModel], only: set[str] | None = None) -> list[str]:
    lines = ["| field | type | |", "|---|---|---|"]
    for name, info in model.model_fields.items():
        if only is not None and name not in only:
            continue
        lines.append(f"| `{name}` | {type_name(info.annotation)} | {info.description or ''} |")
    return lines


def _parts(model: type[BaseModel], seen: list[type[Part]]) -> None:
    for info in model.model_fields.values():
        for arg in _walk(info.annotation):
            if inspect.isclass(arg) and issubclass(arg, Part) and arg not in seen:
                seen.append(arg)
                _parts(arg, seen)


def _walk(annotation: Any) -> list[Any]:
    found = [annotation]
    for arg in typing.get_args(annotation):
        found += _walk(arg)
    return found


def _json(example: dict[str, Any]) -> str:
    return json.dumps(example, ensure_ascii=False, indent=1)


def _common_base(models: list[type[EventModel]]) -> type[EventModel]:
    for cls in models[0].__mro__:
        if all(issubclass(m, cls) for m in models):
            return cls  # type: ignore[return-value]
    return EventModel


def _key(model: type[EventModel]) -> str:
    return model.KEY_DOC or model.KEY or "none"


def render() -> str:
    out = [HEADER]
    parts: list[type[Part]] = []
    for service, topic_names in PRODUCED_BY.items():
        out.append(f"## {service}\n")
        if not topic_names:
            out.append(f"{service} publishes no events.\n")
        for topic in topic_names:
            models = [m for m in MODELS if m.TOPIC == topic]
            if not models:
                continue
            base = _common_base(models)
            out.append(f"### {topic} (key: {_key(models[0])})\n")
            out.append("types " + ", ".join(f"`{m.TYPE}`" for m in models) + "\n")
            if base is not EventModel:
                out.append(_doc(base) + "\n")
                if base.EXAMPLE:
                    out += ["```json", _json(base.EXAMPLE), "```", ""]
                out += _fields(base)
                out.append("")
            for m in models:
                _parts(m, parts)
                if m is base:
                    if len(models) > 1:
                        out.append(f"- `{m.TYPE}` ({m.__name__}): the fields above.")
                    continue
                extra = set(m.model_fields) - set(base.model_fields)
                doc = " ".join(_doc(m).split())
                out.append(f"- `{m.TYPE}` ({m.__name__}): {doc}")
                if extra:
                    out.append("")
                    out.append(f"  `{m.TYPE}` adds:\n")
                    out += ["  " + line for line in _fields(m, extra)]
                    out.append("")
            out.append("")
    if parts:
        out.append("## Nested objects\n")
        for p in parts:
            out.append(f"### {p.__name__}\n")
            if doc := _doc(p):
                out.append(doc + "\n")
            out += _fields(p)
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is not what the models say; run `python -m contracts.docs`",
                  file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
