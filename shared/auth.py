"""Who is calling, and may they: credentials in, a `Principal` out, access rules per route.

The parts live in their own modules; this one wires them into FastAPI and keeps the names
every service imports:

    shared/principals.py    Principal, roles, regions, claims -> principal (configurable names)
    shared/tokens.py        Verifier: PyJWT, algorithm allow-list, issuer, audience, expiry,
                            keys configured by hand and from the provider's JWKS (rotation)
    shared/web_session.py   the signed browser session cookie, the Origin check (CSRF)
    shared/oidc.py          staff sign-in: OpenID Connect authorization code + PKCE, sign-out
    shared/dev_keys.py      the development key, `canbao token`

Credentials
    API clients send `Authorization: Bearer <JWT>` from the identity provider (staff: a role
    and a region; system callers: scopes). Browsers carry the session cookie set at sign-in
    (or, as before, a token in the `canbao_token` cookie). A write authenticated by a cookie
    must come from one of the service's own origins (403 `forbidden_origin`). A browser
    asking for an HTML page without credentials is sent to sign in (303 to /auth/login).

API
    AccessRule(roles, scopes, region_params=(...), department_param=None)
    authorize(principal, rule, path_params, query_params)   raises Forbidden
        codes: forbidden_role (staff role not allowed), forbidden_scope (system caller without
        any of the rule's scopes), forbidden_region, forbidden_department
    require_region(principal, code), require_department(principal, department)
        the same checks for values found in bodies or loaded rows (in services)
    match_rule(rules, method, route_path) -> AccessRule | None
    present_id_number(principal, encrypted_or_plain, masked, *, vault=None) -> str

FastAPI
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

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from shared.dev_keys import ensure_dev_keypair, key_id, mint_token, token_command
from shared.errors import Forbidden, error_body
from shared.principals import (
    DEPARTMENT_ALIASES,
    DEPARTMENTS,
    FULL_ID_ROLES,
    NATIONAL,
    PII_READ_SCOPE,
    ROLES,
    ClaimNames,
    Principal,
    canonical_department,
    principal_from_claims,
    region_prefix,
)
from shared.tokens import MAX_TOKEN_LENGTH, JwksKeys, Unauthorized, Verifier, bearer_token
from shared.session_revocation import SessionRevocations
from shared.web_session import (
    SESSION_COOKIE,
    SessionSigner,
    check_origin,
    cookie_attributes,
    normalise_origins,
)

if TYPE_CHECKING:
    from shared.pii import PiiVault
    from shared.security_settings import SecuritySettings

__all__ = [
    "DEPARTMENT_ALIASES", "DEPARTMENTS", "FULL_ID_ROLES", "NATIONAL", "PII_READ_SCOPE", "ROLES",
    "ClaimNames", "Principal", "canonical_department", "principal_from_claims", "region_prefix",
    "MAX_TOKEN_LENGTH", "JwksKeys", "Unauthorized", "Verifier", "bearer_token",
    "ensure_dev_keypair", "key_id", "mint_token", "token_command", "SESSION_COOKIE",
    "AccessRule", "AccessControl", "authorize", "require_region", "require_department",
    "match_rule", "enforce", "enforce_access", "install_access_control", "current_principal",
    "PrincipalDep", "present_id_number", "OPERATIONS_PATHS", "TOKEN_COOKIE",
    "DEFAULT_REGION_PARAMS", "UNAUTHENTICATED_DEVELOPER", "SIGN_IN_PATH",
]

OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json",
                              "/docs/oauth2-redirect", "/redoc"})
TOKEN_COOKIE = "canbao_token"
SIGN_IN_PATH = "/auth/login"
DEFAULT_REGION_PARAMS = ("county_code", "township_code", "village_code", "region_code")

_ID_NUMBER = re.compile(r"[0-9]{17}[0-9Xx]")


# --- authorization ---------------------------------------------------------------------------

@dataclass(frozen=True)
class AccessRule:
    """Who may call one route: staff whose role is in `roles`, system callers holding any of
    `scopes`. Region parameters found in the path or query must lie in the caller's region;
    `department_param` names the parameter a department officer's department must match."""

    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    region_params: tuple[str, ...] = DEFAULT_REGION_PARAMS
    department_param: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.roles) - ROLES
        if unknown:
            raise ValueError(f"unknown role(s) in access rule: {sorted(unknown)}")


def _param_values(name: str, path_params: Mapping[str, Any],
                  query_params: Mapping[str, Any]) -> list[str]:
    values: list[str] = []
    if name in path_params:
        values.append(str(path_params[name]))
    getlist = getattr(query_params, "getlist", None)
    if getlist is not None:
        values.extend(str(v) for v in getlist(name))
    elif name in query_params:
        raw = query_params[name]
        values.extend(str(v) for v in (raw if isinstance(raw, list | tuple) else [raw]))
    return values


def require_region(principal: Principal, code: str) -> None:
    if not principal.can_see_region(code):
        raise Forbidden(f"region {code} is outside your region {principal.region}",
                        code="forbidden_region", details={"region": code})


def require_department(principal: Principal, department: str) -> None:
    """Department officers act only for their own department (other roles pass)."""
    if principal.role == "department_officer" and \
            canonical_department(department) != principal.department:
        raise Forbidden(f"you act for {principal.department}, not {department}",
                        code="forbidden_department", details={"department": department})


def authorize(principal: Principal, rule: AccessRule, path_params: Mapping[str, Any],
              query_params: Mapping[str, Any]) -> str | None:
    """Raise Forbidden unless `principal` may make this call (see AccessRule). Returns the one
    region the call names in its region parameters (inside the caller's region, so never wider
    than it), or None when it names none or several: the audit log files the call there."""
    if principal.kind == "system":
        if not principal.scopes & rule.scopes:
            needed = " or ".join(sorted(rule.scopes)) or "(no system access)"
            raise Forbidden(f"this call needs scope {needed}", code="forbidden_scope")
    elif principal.role not in rule.roles:
        raise Forbidden(f"role {principal.role} may not make this call", code="forbidden_role")
    named: set[str] = set()
    for name in rule.region_params:
        for value in _param_values(name, path_params, query_params):
            require_region(principal, value)
            named.add(value)
    if rule.department_param:
        for value in _param_values(rule.department_param, path_params, query_params):
            require_department(principal, value)
    return named.pop() if len(named) == 1 else None


def match_rule(rules: Mapping[tuple[str, str], AccessRule], method: str,
               route_path: str) -> AccessRule | None:
    """The rule for (METHOD, route template); HEAD falls back to GET."""
    method = method.upper()
    rule = rules.get((method, route_path))
    if rule is None and method == "HEAD":
        rule = rules.get(("GET", route_path))
    return rule


# --- FastAPI ---------------------------------------------------------------------------------

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
        return JSONResponse(error_body(exc.code, exc.message, **exc.details), exc.status_code,
                            headers=exc.headers)

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
    enforce(control, request.scope.setdefault("state", {}), request.method, template,
            authorization, cookie_token, request.path_params, request.query_params,
            session_cookie=request.cookies.get(SESSION_COOKIE), origin=headers.get("origin"),
            referer=headers.get("referer"),
            own_origin=f"{request.url.scheme}://{request.url.netloc}")


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
            raise Unauthorized("登录会话已失效，请重新登录（the session has expired or is not "
                               "valid; sign in again）")
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


def current_principal(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise Unauthorized("需要 Authorization: Bearer 令牌（an Authorization: Bearer token is "
                           "required）")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


# --- personal data ---------------------------------------------------------------------------

def present_id_number(principal: Principal, encrypted_or_plain: str, masked: str, *,
                      vault: PiiVault | None = None) -> str:
    """The full ID number for those allowed to read it, else `masked`. Ciphertext (from
    `shared.pii.PiiVault.encrypt`) is decrypted only for them, which needs `vault`."""
    if not principal.can_read_full_id_number:
        return masked
    if _ID_NUMBER.fullmatch(encrypted_or_plain):
        return encrypted_or_plain
    if vault is None:
        raise ValueError("an encrypted ID number needs the vault to be shown in full")
    return vault.decrypt(encrypted_or_plain)
