"""Each service's published OpenAPI document tells the truth about errors.

FastAPI documents every 422 as its own `HTTPValidationError` (`{"detail": [...]}`), but every
error we answer is `{"error": {"code", "message", ...}}` (shared/errors.py). Once per app,
`document_errors` post-processes the generated document:

    - `ErrorBody` (and the models it uses) joins the components; every reference to
      `HTTPValidationError` points at it instead, and FastAPI's two validation schemas go;
    - every token-protected operation documents 401 and 403 (access control answers them on
      every route), 404 when it has path parameters, 409 when it writes, and `4XX` with
      ErrorBody for any other client error (413 request_too_large, 429 rate_limited, 404 from
      a lookup, ...). Public operations (health, the channels' webhooks, which answer in the
      channels' own formats) keep only the corrected 422.

So Schemathesis's response_schema_conformance (tests/test_openapi_fuzz.py) checks every
error answer against ErrorBody: a `{"detail": ...}` body, or an error without a code or
message, fails it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI

from shared.errors import ErrorBody

REF_PREFIX = "#/components/schemas/"
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
WRITES = frozenset({"post", "put", "patch", "delete"})
METHODS = frozenset({"get", "head", "options", "trace", *WRITES})

RESPONSES = {
    "401": "Unauthenticated (`unauthenticated`): no bearer token, or one that is not valid",
    "403": "Forbidden: `forbidden_role`, `forbidden_scope`, `forbidden_region` (what the call "
           "names or changes lies outside the caller's region), `forbidden_department`",
    "404": "Not found (`person_not_found`, ...); reads answer it too for what lies outside "
           "the caller's region",
    "409": "Conflict with the current state (`person_exists`, `already_completed`, ...)",
    "422": "Invalid request: `invalid_request` (every failing field in `fields`), "
           "`invalid_value` (a value the database cannot hold), or a domain check",
    "503": "Busy (`busy_retry`, with Retry-After): the call collided with other work on the "
           "same rows and was rolled back, changing nothing; repeat it",
    "4XX": "Any other client error (413 `request_too_large`, 429 `rate_limited`, ...)",
}


def _error_response(status: str) -> dict[str, Any]:
    return {"description": RESPONSES[status],
            "content": {"application/json": {"schema": {"$ref": f"{REF_PREFIX}ErrorBody"}}}}


def _replace_refs(node: Any, old: str, new: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and value == old:
                node[key] = new
            else:
                _replace_refs(value, old, new)
    elif isinstance(node, list):
        for item in node:
            _replace_refs(item, old, new)


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def error_schemas() -> dict[str, Any]:
    """ErrorBody and the models it uses, as OpenAPI components."""
    schema = ErrorBody.model_json_schema(ref_template=REF_PREFIX + "{model}")
    defs = schema.pop("$defs", {})
    return {**defs, "ErrorBody": schema}


def correct_error_documents(document: dict[str, Any], public_paths: Iterable[str]) -> None:
    """Rewrite a FastAPI OpenAPI document in place (see the module's docstring)."""
    public = frozenset(public_paths)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(error_schemas())
    _replace_refs(document.get("paths", {}), f"{REF_PREFIX}HTTPValidationError",
                  f"{REF_PREFIX}ErrorBody")
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = _error_response("422")
            if path in public:
                continue
            wanted = ["401", "403"]
            if "{" in path:
                wanted.append("404")
            if method in WRITES:
                wanted += ["409", "503"]
            wanted.append("4XX")
            for status in wanted:
                responses.setdefault(status, _error_response(status))
            operation["responses"] = dict(sorted(responses.items()))
    still_used = _refs(document.get("paths", {})) | _refs(
        {k: v for k, v in components.items() if k not in FASTAPI_VALIDATION_SCHEMAS})
    for name in FASTAPI_VALIDATION_SCHEMAS:
        if f"{REF_PREFIX}{name}" not in still_used:
            components.pop(name, None)


def document_errors(app: FastAPI, public_paths: Iterable[str]) -> None:
    """Make `app.openapi()` (and /openapi.json, /docs) publish the corrected document."""
    generate = app.openapi
    public = frozenset(public_paths)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()  # FastAPI caches it in app.openapi_schema
            correct_error_documents(document, public)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
