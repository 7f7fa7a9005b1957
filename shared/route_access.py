"""Route access enforcement in FastAPI (and plain ASGI): credentials in, a `Principal` on the
request, the route's `AccessRule` applied (default deny).

Credentials
    API clients send `Authorization: Bearer <JWT>` from the identity provider (staff: a role
    and a region; system callers: scopes). Browsers carry the session cookie set at sign-in
    (or, as before, a token in the `canbao_token` cookie). A write authenticated by a cookie
    must come from one of the service's own origins (403 `forbidden_origin`). A browser
    asking for an HTML page without credentials is sent to sign in (303 to /auth/login).

    AccessControl(verifier, rules, public_paths=OPERATIONS_PATHS, enabled=True, sessions=None,
                  origins=frozenset())      .from_settings(security_settings, rules, public)
    install_access_control(app, control)   stores it on app.state, maps Unauthorized to a 401
                                           with WWW-Authenticate (or, for a browser asking for
                                           a page, to the sign-in redirect)
    FastAPI(dependencies=[Depends(enforce_access)])   authenticates and authorizes every route:
        public route templates pass; other routes need credentials and a rule in `rules`
        (default deny: a route without a rule answers 403 forbidden_role)
    enforce(control, state, method, template, ...)   the same, for plain-ASGI routes
    PrincipalDep = Annotated[Principal, Depends(current_principal)]   in handlers
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from shared.access_rules import AccessRule, authorize, match_rule
from shared.errors import Forbidden, error_body
from shared.i18n import EN, Text, request_language
from shared.principals import NATIONAL, Principal
from shared.session_revocation import SessionRevocations
from shared.tokens import Unauthorized, Verifier
from shared.web_session import (
    SESSION_COOKIE,
    SessionSigner,
    check_origin,
    cookie_attributes,
    normalise_origins,
)

if TYPE_CHECKING:
    from shared.security_settings import SecuritySettings

OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json",
                              "/docs/oauth2-redirect", "/redoc"})
TOKEN_COOKIE = "canbao_token"
SIGN_IN_PATH = "/auth/login"

# Used when authentication is switched off (development and tests only, never production).
UNAUTHENTICATED_DEVELOPER = Principal(subject="dev", kind="staff", role="administrator",
                                      region=NATIONAL)


@dataclass
class AccessControl:
    verifier: Verifier | None
    rules: Mapping[tuple[str, str], AccessRule]
    public_paths: frozenset[str] = OPERATIONS_PATHS
    enabled: bool = True
    # checks the session cookie; None: no browser sessions
    sessions: SessionSigner | None = None
    # where cookie-authenticated writes may come from (empty: the request's own origin)
    origins: frozenset[str] = field(default_factory=frozenset)
    # sessions ended before their expiry (sign-out, `canbao sessions revoke`); None: not checked
    revocations: SessionRevocations | None = None

    @classmethod
    def from_settings(cls, settings: SecuritySettings,
                      rules: Mapping[tuple[str, str], AccessRule],
                      public_paths: Iterable[str] = OPERATIONS_PATHS) -> AccessControl:
        return cls(verifier=Verifier.from_settings(settings) if settings.auth_enabled else None,
                   rules=rules, public_paths=frozenset(public_paths),
                   enabled=settings.auth_enabled,
                   sessions=SessionSigner(settings.session_key(),
                                          settings.session_max_age_seconds),
                   origins=normalise_origins(settings.public_origins))


def wants_html(request: Request) -> bool:
    return request.method in ("GET", "HEAD") and \
        "text/html" in request.headers.get("accept", "") and \
        not request.headers.get("authorization")


def sign_in_redirect(request: Request) -> Response:
    """303 to the sign-in page, coming back to this page afterwards; a stale session cookie
    is dropped."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"{SIGN_IN_PATH}?{urlencode({'next': target})}", 303)
    if SESSION_COOKIE in request.cookies:
        response.delete_cookie(SESSION_COOKIE, **_cookie_scope(request))
    return response


def _cookie_scope(request: Request) -> dict[str, Any]:
    attributes = cookie_attributes(request.url.scheme, request.url.hostname or "")
    attributes.pop("max_age")
    return attributes


def install_access_control(app: FastAPI, control: AccessControl) -> None:
    if control.enabled and control.verifier is None:
        raise ValueError("access control is enabled but has no verifier")
    app.state.access_control = control

    async def _unauthorized(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Unauthorized)
        if wants_html(request):
            return sign_in_redirect(request)
        lang = request_language(request)  # the reason in the reader's language
        return JSONResponse(error_body(exc.code, exc.text(lang), **exc.details), exc.status_code,
                            headers={**exc.headers,
                                     "Content-Language": "en" if lang == EN else "zh-CN"})

    app.add_exception_handler(Unauthorized, _unauthorized)


async def enforce_access(request: Request) -> None:
    """App-wide dependency: authenticate, then authorize against the route's rule."""
    control: AccessControl | None = getattr(request.app.state, "access_control", None)
    if control is None:
        raise RuntimeError("install_access_control(app, ...) was not called")
    route = request.scope.get("route")
    template: str = (getattr(route, "path_format", None) or getattr(route, "path", None)
                     or request.url.path)
    headers = request.headers
    authorization = headers.get("authorization")
    cookie_token = request.cookies.get(TOKEN_COOKIE)
    verifier = control.verifier
    if verifier is not None and verifier.jwks is not None and template not in control.public_paths:
        # a key id we do not hold yet: fetch the provider's key set off the event loop
        token = authorization.partition(" ")[2].strip() if authorization else cookie_token
        if token and verifier.needs_fetch(token):
            await anyio.to_thread.run_sync(verifier.fetch_keys_for, token)
    scope = request.scope
    # read straight from the scope: building request.url and request.query_params costs
    # more than the rest of the check on the peak-season routes (no query string there)
    query = request.query_params if scope.get("query_string") else _NO_QUERY
    enforce(control, scope.setdefault("state", {}), request.method, template,
            authorization, cookie_token, request.path_params, query,
            session_cookie=request.cookies.get(SESSION_COOKIE), origin=headers.get("origin"),
            referer=headers.get("referer"), own_origin=_own_origin(scope, headers))


_NO_QUERY: Mapping[str, Any] = {}
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _own_origin(scope: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """scheme://host[:port] of the request, as Starlette's `request.url` gives it."""
    scheme = scope.get("scheme", "http")
    host = headers.get("host")
    if host is None:
        server = scope.get("server")
        if server is None:
            return f"{scheme}://"
        name, port = server
        host = name if _DEFAULT_PORTS.get(scheme) == port else f"{name}:{port}"
    return f"{scheme}://{host}"


def enforce(control: AccessControl, state: dict[str, Any], method: str, template: str,
            authorization: str | None, cookie_token: str | None,
            path_params: Mapping[str, Any], query_params: Mapping[str, Any], *,
            session_cookie: str | None = None, origin: str | None = None,
            referer: str | None = None, own_origin: str | None = None) -> None:
    """Authenticate, then authorize against the rule of (method, route template). The
    principal lands in `state` (the ASGI scope's, which `request.state` reads and the audit
    log records) before any refusal. Without an Authorization header, a browser's session
    cookie (or a token cookie) stands in, and then a write must pass the Origin check."""
    if template in control.public_paths:
        return
    if not control.enabled:
        state["principal"] = UNAUTHENTICATED_DEVELOPER
        return
    assert control.verifier is not None
    by_cookie = False
    if authorization:
        principal = control.verifier.authenticate(authorization)
    elif cookie_token:
        principal, by_cookie = control.verifier.verify(cookie_token), True
    elif session_cookie and control.sessions is not None:
        found = control.sessions.principal(session_cookie)
        if found is not None and control.revocations is not None and \
                control.revocations.is_revoked(found):
            found = None
        if found is None:
            raise _unauthenticated("登录会话已失效，请重新登录",
                                   "the session has expired or is not valid; sign in again")
        principal, by_cookie = found, True
    else:
        principal = control.verifier.authenticate(None)
    state["principal"] = principal
    if by_cookie:
        check_origin(method, origin, referer, control.origins, own_origin)
    rule = match_rule(control.rules, method, template)
    if rule is None:
        raise Forbidden(f"no access rule allows {method} {template}", code="forbidden_role")
    # where the audit log files the call: the region it names, so that a county's auditor
    # also sees what a province-wide administrator did in the county (shared/audit.py)
    if (named := authorize(principal, rule, path_params, query_params)) is not None:
        state["audit_region"] = named


def _unauthenticated(chinese: str, english: str) -> Unauthorized:
    return Unauthorized(f"{chinese}（{english}）", params={"reason": Text(chinese, english)})


def current_principal(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise _unauthenticated("需要 Authorization: Bearer 令牌",
                               "an Authorization: Bearer token is required")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
