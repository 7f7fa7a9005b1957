"""API documentation that works without the internet: Swagger UI (`/docs`) and ReDoc
(`/redoc`) served from the `fastapi-offline` wheel's copies of their assets (no CDN), and
security schemes in every OpenAPI document so that Swagger UI shows an Authorize button and
generated clients send credentials.

Schemes: `bearerAuth` (a JWT from the identity provider in `Authorization: Bearer`), and when a
provider is configured `oidc` (OpenID Connect discovery, the staff sign-in) and `sessionCookie`
(`canbao_session`, browsers after sign-in). Every operation that is not public names them as
alternatives; public ones (health, docs, sign-in, the channels' webhooks, which the channels
sign themselves) carry `security: []`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

ASSETS_PATH = "/docs/assets/{name}"
ASSETS = {"swagger-ui-bundle.js": "application/javascript",
          "swagger-ui.css": "text/css",
          "redoc.standalone.js": "application/javascript",
          "favicon.png": "image/png"}
SESSION_COOKIE = "canbao_session"
METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})

DESCRIPTION = """\
参保 Canbao {service} 服务接口。所有接口 (健康检查、文档、登录和支付渠道回调除外) 都需要身份提供方
签发的 JWT (`Authorization: Bearer ...`) 或工作人员登录后的会话 Cookie。错误统一为
`{{"error": {{"code", "message"}}}}`。分页、命名约定见 docs/API.md。

Canbao {service} service API. Every route but health, documentation, sign-in and the payment
channels' webhooks needs a JWT from the identity provider (`Authorization: Bearer ...`) or a
staff member's session cookie after sign-in. Every error is `{{"error": {{"code",
"message"}}}}`. Paging and naming conventions: docs/API.md.
"""


def _asset_dir() -> Path:
    return Path(str(resources.files("fastapi_offline") / "static"))


def security_schemes(discovery_url: str | None) -> dict[str, Any]:
    schemes: dict[str, Any] = {
        "bearerAuth": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "身份提供方签发的访问令牌 / an access token of the identity provider "
                           "(Keycloak: the realm's token endpoint; canbao dev: `canbao token`)"},
    }
    if discovery_url:
        schemes["oidc"] = {"type": "openIdConnect", "openIdConnectUrl": discovery_url,
                           "description": "工作人员登录 / staff sign-in (authorization code, "
                                          "PKCE)"}
        schemes["sessionCookie"] = {
            "type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
            "description": "登录后的会话 / the session after signing in at /auth/login; writes "
                           "also need an allowed Origin"}
    return schemes


def document_security(document: dict[str, Any], public_paths: Iterable[str],
                      discovery_url: str | None) -> None:
    """Add the schemes and each operation's `security` (in place)."""
    public = frozenset(public_paths)
    schemes = security_schemes(discovery_url)
    document.setdefault("components", {})["securitySchemes"] = schemes
    alternatives: list[dict[str, list[str]]] = [{name: []} for name in schemes]
    document["security"] = alternatives
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in METHODS and isinstance(operation, dict):
                operation["security"] = [] if path in public else alternatives


SHARED_SUMMARIES: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/healthz"): ("存活检查", "Liveness: the process answers"),
    ("GET", "/readyz"): ("就绪检查: 数据库、Kafka、迁移版本",
                         "Readiness: database, Kafka and migrations (the healthcheck)"),
    ("GET", "/v1/audit"): ("审计日志 (管理员)", "The audit log (administrators)"),
}


def document_summaries(document: dict[str, Any],
                       summaries: Mapping[tuple[str, str], tuple[str, str]]) -> None:
    """Each operation's summary as "中文 / English"; an operation without a description gets
    both sentences as its description (the routes' docstrings stay the English detail)."""
    table = {**SHARED_SUMMARIES, **summaries}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            found = table.get((method.upper(), path)) if isinstance(operation, dict) else None
            if found is None:
                continue
            zh, en = found
            operation["summary"] = f"{zh} / {en}"
            if not operation.get("description"):
                operation["description"] = f"{zh}。\n\n{en}."


def install_docs(app: FastAPI, service: str, public_paths: Iterable[str],
                 discovery_url: str | None = None,
                 summaries: Mapping[tuple[str, str], tuple[str, str]] | None = None) -> None:
    """Serve /docs, /redoc and their assets from the package; publish security schemes and
    the bilingual summaries. Create the app with docs_url=None and redoc_url=None."""
    folder = _asset_dir()
    title = app.title
    app.description = DESCRIPTION.format(service=service)
    public = frozenset(public_paths)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document_security(document, public, discovery_url)
            document_summaries(document, summaries or {})
            document_examples(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title=f"{title} - Swagger UI",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True})

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{title} - ReDoc",
                              redoc_js_url="/docs/assets/redoc.standalone.js",
                              redoc_favicon_url="/docs/assets/favicon.png",
                              with_google_fonts=False)

    @app.get(ASSETS_PATH, include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise HTTPException(404)
        return FileResponse(folder / name, media_type=ASSETS[name],
                            headers={"cache-control": "public, max-age=86400"})


CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTML = "text/html"
_FILES = {
    "csv": (CSV, "CSV (UTF-8 带 BOM / with BOM), 表头为中文 / Chinese headers"),
    "xlsx": (XLSX, "Excel 工作簿 / workbook"),
    "html": (HTML, "可打印页面 / printable page"),
}


def file_only_responses(*formats: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route that answers a file only (its JSON 200 removed from the
    document by `response_class=Response`)."""
    return file_responses(*formats, description="文件 / the file")


def file_responses(*formats: str, model: type | None = None,
                   description: str = "成功 / OK", example: Any = None
                   ) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route that answers JSON (`model`) or, with `format=`, a file: each
    file format is declared with its media type (a binary string in the document)."""
    content: dict[str, Any] = {}
    for fmt in formats:
        media, what = _FILES[fmt]
        content[media] = {"schema": {"type": "string", "format": "binary",
                                     "description": f"format={fmt}: {what}"}}
    answer: dict[str, Any] = {"description": description, "content": content}
    if model is not None:
        answer["model"] = model
        if example is not None:
            content["application/json"] = {"example": example}
    return {200: answer}


# --- examples ---------------------------------------------------------------------------------
# Every JSON request body and JSON success answer carries an example: a hand-written one where a
# route or model has it, else one built from the schema with the values an integrator would
# really send (a Tengzhou county code, a village under it, a plan year, amounts in fen).

_BY_NAME: dict[str, Any] = {
    "county_code": "370481", "region_code": "370481", "township_code": "370481001000",
    "village_code": "370481001001", "code": "370481", "plan_year": 2025,
    "population_year": 2024, "id_number": "370481198001011239", "name": "王小明",
    "phone": "13812345678", "channel": "bank_ccb", "department": "civil_affairs",
    "order_no": "CB2025370481000001", "next_cursor": None, "cursor": None, "limit": 100,
    "reason": "other", "note": "外出务工", "on": "2025-02-01", "paid_on": "2025-02-01",
    "as_of": "2025-02-01", "date_from": "2025-01-01", "date_to": "2025-01-31",
    "status": "ok", "service": "registration", "relation_to_head": "户主",
    "household_number": "370481001001-0001", "version": 1, "region_name": "滕州市",
    "county_name": "滕州市", "township_name": "荆河街道", "village_name": "示例村",
    "rank": "county", "name_masked": "王*明", "id_number_masked": "370481***********9",
}
_SAMPLE_STRINGS = ("370481", "370481001000", "2025-02-01", "2025-02-01T09:30:00+08:00",
                   "0190f3a4-5b6c-7d8e-9f00-112233445566", "CB2025370481000001", "bank_ccb",
                   "370481198001011239", "13812345678", "whsec_", "示例", "example")


def _string_example(name: str, schema: dict[str, Any]) -> str | None:
    fmt = schema.get("format")
    if fmt == "date":
        return "2025-02-01"
    if fmt == "date-time":
        return "2025-02-01T09:30:00+08:00"
    if fmt == "uuid":
        return "0190f3a4-5b6c-7d8e-9f00-112233445566"
    if fmt == "binary":
        return None
    pattern = schema.get("pattern")
    known = [v for key, v in _BY_NAME.items() if isinstance(v, str)
             and (name == key or ("_" in key and name.endswith("_" + key)))]
    low = schema.get("minLength", 0)
    candidates = known + (list(_SAMPLE_STRINGS) if pattern else ["示例" * max(1, low)])
    high = schema.get("maxLength", 10_000)
    import re

    for value in candidates:
        if low <= len(value) <= high and (not pattern or re.search(pattern, value)):
            return str(value)
    return None if pattern else "示例"[:max(high, 1)]


def example_for(document: dict[str, Any], schema: dict[str, Any], name: str = "",
                depth: int = 0) -> Any:
    """A value that validates against `schema` (refs resolved in `document`)."""
    if depth > 8:
        return None
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    for key in ("example", "const"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        real = [o for o in options if o.get("type") != "null"]
        if name in _BY_NAME and _BY_NAME[name] is None and len(real) < len(options):
            return None
        return example_for(document, real[0], name, depth + 1) if real else None
    if schema.get("default") is not None:
        return schema["default"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "string":
        return _string_example(name, schema)
    if kind in ("integer", "number"):
        value = _BY_NAME.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            value = 38000 if name.endswith("_fen") else 1
        low = schema.get("minimum", schema.get("exclusiveMinimum", value - 1) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", value + 1) - 1)
        value = min(max(value, low), high)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    if kind == "array":
        item = example_for(document, schema.get("items", {}), name, depth + 1)
        return [item] * max(1, schema.get("minItems", 1)) if item is not None else []
    if kind == "object" or "properties" in schema:
        out = {}
        for prop, sub in schema.get("properties", {}).items():
            value = example_for(document, sub, prop, depth + 1)
            if value is not None or _nullable(document, sub):
                out[prop] = value
        return out
    if kind == "null":
        return None
    return {} if not schema else None


def _nullable(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    options = schema.get("anyOf") or schema.get("oneOf") or []
    return schema.get("type") == "null" or any(o.get("type") == "null" for o in options)


def document_examples(document: dict[str, Any]) -> None:
    """An `example` on every JSON request body and JSON success answer that has none."""
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in METHODS or not isinstance(operation, dict):
                continue
            targets = [operation.get("requestBody", {}).get("content", {})]
            targets += [answer.get("content", {}) for status, answer in
                        operation.get("responses", {}).items() if status.startswith("2")]
            for content in targets:
                media = content.get("application/json")
                if not media or "schema" not in media or "example" in media or \
                        "examples" in media:
                    continue
                value = example_for(document, media["schema"])
                if value is not None:
                    media["example"] = value
