"""Every route of the four OpenAPI documents follows docs/API.md: one paging style (`cursor` +
`limit` in, `{items, next_cursor}` out; no offset or page numbers; no bare JSON arrays), one
naming convention (snake_case names; `date_from`/`date_to` for date ranges; path ids named
`<resource>_id` after a collection of the service; region codes validated by pattern, so a
malformed code answers 422, never 403). A new route that breaks them fails here by name.

KNOWN lists the routes that still break them, each with what it breaks; a route fixed must
leave the list (the test says so) so that the list only shrinks."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest

from shared.security_settings import get_security_settings
from shared.settings import SERVICES

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
REGION_PARAMS = ("region_code", "county_code", "township_code", "village_code", "code")
PAGING_BANNED = ("offset", "page", "page_size", "per_page", "skip")
DATE_BANNED = ("from", "to", "start", "end", "start_date", "end_date", "from_date", "to_date")
ID_NOUNS_EXTRA = {"job", "report", "group"}  # ids of things without a collection path
# (service, METHOD, path) -> what it breaks; empty: every route follows them
KNOWN: dict[tuple[str, str, str], set[str]] = {}


def _documents() -> dict[str, dict[str, Any]]:
    # built at collection: the setting is put back at once, or every later test would run
    # without rate limits
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CANBAO_RATE_LIMIT_ENABLED", "false")
        get_security_settings.cache_clear()
        try:
            return {name: importlib.import_module(f"services.{name}.app").create_app().openapi()
                    for name in SERVICES}
        finally:
            get_security_settings.cache_clear()


DOCUMENTS: dict[str, dict[str, Any]] = {}
DOCUMENTS.update(_documents())


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _success_json(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    for status in ("200", "201", "202"):
        content = operation.get("responses", {}).get(status, {}).get("content", {})
        if "application/json" in content and "schema" in content["application/json"]:
            return _resolve(document, content["application/json"]["schema"])
    return None


def _problems(service: str, document: dict[str, Any], method: str, path: str,
              operation: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    params = {p["name"]: p for p in operation.get("parameters", [])}
    query = {n for n, p in params.items() if p["in"] == "query"}
    # a resource of any service (eligibility's person_id names registration's persons)
    paths = [p for d in (*DOCUMENTS.values(), document) for p in d["paths"]]
    collections = {seg.replace("-", "_") for p in paths for seg in p.split("/")
                   if seg and not seg.startswith("{")}
    nouns = {c[:-1] if c.endswith("s") else c for c in collections} | collections | \
        ID_NOUNS_EXTRA
    for name, param in params.items():
        if param["in"] in ("query", "path") and not SNAKE.match(name):
            found.add(f"name {name}")
        if param["in"] == "path" and name.endswith("_id") and name[:-3] not in nouns:
            found.add(f"id name {name}")
        if name in REGION_PARAMS:
            schema = param.get("schema", {})
            patterns = [schema.get("pattern")] + [s.get("pattern") for s in schema.get("anyOf", [])]
            if not any(patterns):
                found.add(f"unvalidated region {name}")
    if query & set(PAGING_BANNED):
        found.add("offset paging")
    if query & set(DATE_BANNED):
        found.add("date range from/to")
    answer = _success_json(document, operation)
    if method == "get" and answer is not None and answer.get("type") == "array":
        found.add("bare array")
    if "cursor" in query or "next_cursor" in (answer or {}).get("properties", {}):
        props = (answer or {}).get("properties", {})
        if "limit" not in query or "cursor" not in query:
            found.add("cursor paging without cursor and limit")
        if "items" not in props or "next_cursor" not in props:
            found.add("cursor page is not {items, next_cursor}")
    elif "limit" in query and "offset paging" not in found:
        found.add("limit without cursor")
    for prop in (answer or {}).get("properties", {}):
        if not SNAKE.match(prop):
            found.add(f"field {prop}")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_follows_the_conventions(service: str) -> None:
    document = DOCUMENTS[service]
    broken, fixed = [], []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            key = (service, method.upper(), path)
            problems = _problems(service, document, method, path, operation)
            known = KNOWN.get(key, set())
            if problems - known:
                broken.append(f"{method.upper()} {path}: {sorted(problems - known)}")
            if known - problems:
                fixed.append(f"{method.upper()} {path}: {sorted(known - problems)}")
    assert not broken, "routes that break docs/API.md:\n" + "\n".join(broken)
    assert not fixed, "fixed: take them off KNOWN in this file:\n" + "\n".join(fixed)


def test_the_checks_catch_what_they_are_for() -> None:
    """A made-up document with one route per rule: each is caught."""
    page = {"type": "object", "properties": {"items": {"type": "array"}, "entries": {}}}
    document: dict[str, Any] = {"paths": {"/v1/things": {}, "/v1/things/{thing_id}": {}},
                                "components": {"schemas": {}}}

    def op(params: list[tuple[str, str, dict[str, Any]]], answer: dict[str, Any]) -> dict[str, Any]:
        return {"parameters": [{"name": n, "in": i, "schema": s} for n, i, s in params],
                "responses": {"200": {"content": {"application/json": {"schema": answer}}}}}

    obj = {"type": "object", "properties": {"itemCount": {}}}
    assert _problems("x", document, "get", "/v1/things",
                     op([("offset", "query", {}), ("limit", "query", {})],
                        {"type": "array"})) == {"offset paging", "bare array"}
    assert _problems("x", document, "get", "/v1/things",
                     op([("cursor", "query", {}), ("limit", "query", {})], page)) == \
        {"cursor page is not {items, next_cursor}"}
    assert _problems("x", document, "get", "/v1/things/{rec_id}",
                     op([("rec_id", "path", {}), ("from", "query", {}),
                         ("county_code", "query", {"type": "string"})], obj)) == \
        {"id name rec_id", "date range from/to", "unvalidated region county_code",
         "field itemCount"}
    assert _problems("x", document, "get", "/v1/things/{thing_id}",
                     op([("thing_id", "path", {}),
                         ("county_code", "query", {"pattern": r"^\d{6}$"})],
                        {"type": "object", "properties": {"items": {}}})) == set()
