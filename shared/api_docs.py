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
    alternatives = [{name: []} for name in schemes]
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
