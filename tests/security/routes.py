"""The routes of a service as its OpenAPI document lists them, and requests built for them.

A route's parameters and body are read from the document, so a new route is attacked without
editing the suite. Values come from a small table by parameter name (a person id, a region
code, the plan year) for the side (county) the request is made for, else from the schema
(enum, format, type)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from shared.auth import DEFAULT_REGION_PARAMS, AccessRule

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ID_PARAMS = frozenset({"person_id", "household_id", "report_id", "suspense_id", "refund_id",
                       "draft_id", "publication"})
REGION_FIELDS = frozenset(DEFAULT_REGION_PARAMS)


@dataclass(frozen=True)
class Side:
    """One county's seeded world: the values a request made for it names."""

    label: str                      # "A" or "B"
    county: str
    township: str
    village: str
    person_id: str
    household_id: str
    id_number: str
    name: str
    birth_date: str
    report_id: str
    other_township: str | None = None   # a second township of the same county
    other_village: str | None = None
    other_person_id: str | None = None
    suspense_id: int | None = None          # money in suspense that names the side's person
    unmatched_suspense_id: int | None = None  # money the side's bank got for no known order
    refund_id: int | None = None
    draft_id: str | None = None             # a draft plan of the side's county
    publication: int | None = None          # the publication of its county's plan in force


@dataclass
class Route:
    service: str
    method: str
    path: str
    operation: dict[str, Any]
    document: dict[str, Any]
    rule: AccessRule | None
    public: bool

    @property
    def label(self) -> str:
        return f"{self.service} {self.method} {self.path}"

    @property
    def parameters(self) -> list[dict[str, Any]]:
        return self.operation.get("parameters", [])

    def param(self, name: str) -> dict[str, Any] | None:
        return next((p for p in self.parameters if p["name"] == name), None)

    @property
    def body_content(self) -> str | None:
        content = self.operation.get("requestBody", {}).get("content", {})
        return next(iter(content), None)

    @property
    def body_schema(self) -> dict[str, Any] | None:
        content = self.operation.get("requestBody", {}).get("content", {})
        if not content:
            return None
        return resolve(self.document, next(iter(content.values())).get("schema", {}))

    @property
    def is_upload(self) -> bool:
        return self.body_content == "multipart/form-data"

    @property
    def region_params(self) -> tuple[str, ...]:
        return self.rule.region_params if self.rule else ()

    def roles(self) -> list[str]:
        return sorted(self.rule.roles) if self.rule else []


def routes(service: str, app: FastAPI) -> list[Route]:
    document = app.openapi()
    control = app.state.access_control
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method.upper() not in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                continue
            found.append(Route(service, method.upper(), path, operation, document,
                               control.rules.get((method.upper(), path)),
                               path in control.public_paths))
    return found


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with `$ref`s followed and `anyOf [X, null]` reduced to X."""
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = {**document["components"]["schemas"][name],
                  **{k: v for k, v in schema.items() if k != "$ref"}}
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        if len(options) == 1:
            merged = {**{k: v for k, v in schema.items() if k != "anyOf"},
                      **resolve(document, options[0])}
            return merged
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return {**{k: v for k, v in schema.items() if k != "allOf"},
                **resolve(document, schema["allOf"][0])}
    return schema


def schema_type(schema: dict[str, Any]) -> str | None:
    return schema.get("type")


def is_date(name: str, schema: dict[str, Any]) -> bool:
    return schema.get("format") == "date" or name in {"as_of", "date", "from", "to", "on",
                                                      "date_from", "date_to", "paid_on",
                                                      "registered_on"}


# --- values ----------------------------------------------------------------------------------

PLAN_YEAR = 2025

NAMED: dict[str, Callable[[Side], Any]] = {
    "person_id": lambda s: s.person_id,
    "household_id": lambda s: s.household_id,
    "report_id": lambda s: s.report_id,
    "suspense_id": lambda s: s.suspense_id,
    "refund_id": lambda s: s.refund_id or 1,
    "draft_id": lambda s: s.draft_id,
    "publication": lambda s: s.publication or 1,
    "plan_year": lambda s: PLAN_YEAR,
    "year": lambda s: PLAN_YEAR,
    "population_year": lambda s: PLAN_YEAR - 1,
    "from_year": lambda s: PLAN_YEAR,
    "to_year": lambda s: PLAN_YEAR + 1,
    "township_code": lambda s: s.township,
    "village_code": lambda s: s.village,
    "county_code": lambda s: s.county,
    "region_code": lambda s: s.county,
    "code": lambda s: s.county,
    "department": lambda s: "civil_affairs",
    "group_code": lambda s: "minimum_living_allowance",
    "kind": lambda s: "household_register",
    "id_number": lambda s: s.id_number,
    "parent_id_number": lambda s: s.id_number,
    "name": lambda s: "测试人",
    "format": lambda s: "json",
    "target": lambda s: 100,
    "phone": lambda s: "13800000000",
    "amount_fen": lambda s: 100,
    "declared_count": lambda s: 1,
    "declared_total_fen": lambda s: 100,
    "batch_no": lambda s: "SEC-BATCH-1",
    "reference": lambda s: "SEC-REF-1",
    "note": lambda s: "备注",
    "reason": lambda s: "other",
    "plan": lambda s: "region_code: '370481'\n",
}


def value_for(name: str, schema: dict[str, Any], side: Side, document: dict[str, Any]) -> Any:
    schema = resolve(document, schema)
    if "enum" in schema:
        named = NAMED.get(name)
        wanted = named(side) if named else None
        return wanted if wanted in schema["enum"] else schema["enum"][0]
    if name in NAMED:
        return NAMED[name](side)
    kind = schema_type(schema)
    if kind is None and "anyOf" in schema:
        kind = next((s.get("type") for s in schema["anyOf"] if s.get("type") != "null"), None)
    fmt = schema.get("format")
    if fmt == "uuid":
        return side.person_id
    if fmt == "date" or is_date(name, schema):
        return "2025-01-01"
    if fmt == "date-time":
        return "2025-01-01T08:00:00+08:00"
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if kind == "array":
        return [value_for(name, schema.get("items", {}), side, document)]
    if kind == "object" or "properties" in schema:
        return body_for(schema, side, document)
    return "测试"


def body_for(schema: dict[str, Any], side: Side, document: dict[str, Any]) -> dict[str, Any]:
    """Required properties, and the optional ones the name table knows."""
    schema = resolve(document, schema)
    required = set(schema.get("required", []))
    body = {}
    for name, prop in schema.get("properties", {}).items():
        if resolve(document, prop).get("format") == "binary" or name == "file":
            continue
        if name in required or name in NAMED:
            body[name] = value_for(name, prop, side, document)
    return body


@dataclass
class Call:
    """One request: method, path template, values for the path and query, a JSON body or
    multipart form fields and a file."""

    route: Route
    path_values: dict[str, Any]
    query: dict[str, Any]
    json: Any = None
    form: dict[str, Any] = field(default_factory=dict)
    file: tuple[str, bytes] | None = None

    @property
    def url(self) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: str(self.path_values[m.group(1)]), self.route.path)

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"params": {k: v for k, v in self.query.items() if v is not None}}
        if self.route.is_upload:
            out["files"] = {"file": self.file or ("x.csv", b"")}
            out["data"] = {k: str(v) for k, v in self.form.items() if v is not None}
        elif self.json is not None:
            out["json"] = self.json
        return out

    def copy(self) -> Call:
        return Call(self.route, dict(self.path_values), dict(self.query), copy.deepcopy(self.json),
                    dict(self.form), self.file)


def call_for(route: Route, side: Side, *, optional: bool = False,
             omit_regions: bool = False) -> Call:
    """A request for `side`: required query parameters (and, with `optional`, the ones the
    name table knows; with `omit_regions`, never a region parameter)."""
    path_values, query = {}, {}
    for p in route.parameters:
        name, where = p["name"], p["in"]
        schema = p.get("schema", {})
        if where == "path":
            path_values[name] = value_for(name, schema, side, route.document)
        elif where == "query":
            if omit_regions and name in REGION_FIELDS:
                continue
            if p.get("required") or (optional and name in NAMED and name != "format"):
                query[name] = value_for(name, schema, side, route.document)
    call = Call(route, path_values, query)
    schema = route.body_schema
    if schema is not None:
        if route.is_upload:
            call.form = {k: v for k, v in body_for(schema, side, route.document).items()}
        else:
            call.json = body_for(schema, side, route.document)
    return call


def walk_fields(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, value) of every field of a JSON body, nested ones included."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield (*path, k), v
            yield from walk_fields(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk_fields(v, (*path, i))


def set_field(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    body = copy.deepcopy(body)
    target = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return body


def field_schemas(schema: dict[str, Any] | None, document: dict[str, Any],
                  path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """(path, schema) of every property of a body schema; array items as index 0."""
    if not schema:
        return
    schema = resolve(document, schema)
    for name, prop in schema.get("properties", {}).items():
        prop = resolve(document, prop)
        yield (*path, name), prop
        if prop.get("type") == "array":
            items = resolve(document, prop.get("items", {}))
            if "properties" in items:
                yield from field_schemas(items, document, (*path, name, 0))
        elif "properties" in prop:
            yield from field_schemas(prop, document, (*path, name))
