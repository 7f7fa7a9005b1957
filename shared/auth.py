"""Who is calling, and may they: signed JWTs in, a `Principal` out, access rules per route.

Tokens
    Asymmetric signatures only: EdDSA (Ed25519, preferred) or RS256 (RSA >= 2048 bits). Each
    public key is configured under a key id (`kid`); the token header's `kid` picks the key,
    and the key's type fixes the one algorithm accepted for it (so `none`, HS256 and
    algorithm-confusion tricks are refused). `iss`, `aud`, `exp` and `sub` are required and
    checked with a small leeway; tokens valid for longer than the configured maximum are refused.

    System callers (payment channels, batch jobs):
        {"sub": "wechatpay", "scope": "payments:bills payments:notify"}
    Staff:
        {"sub": "u-1043", "role": "township_staff", "region": "370481001000"}
        {"sub": "u-2001", "role": "department_officer", "region": "370481",
         "department": "civil_affairs"}
    `region` is a GB/T 2260 code: province 370000, city 370400, county 370481, township
    370481001000 (12 digits ending 000) or village 370481001001; `000000` is the whole country.
    A principal sees its region and everything under it.

Cost
    The compact JWS is checked here directly with `cryptography`: PyJWT's decoder added tens
    of microseconds per token, while this path adds a few on top of the one OpenSSL signature
    check, which is nearly all of the cost. A verified token is then remembered until it
    expires (LRU, `cache_size`), so a client's repeated calls cost well under a microsecond.
    There is no revocation list: keep token lifetimes short (CANBAO_JWT_MAX_LIFETIME_SECONDS).

API
    Verifier(public_keys, *, issuer, audience, leeway_seconds=30, max_lifetime_seconds=86400,
             cache_size=10000)                      .from_settings(SecuritySettings)
    Verifier.verify(token) -> Principal              raises Unauthorized
    Verifier.authenticate(authorization_header) -> Principal   ("Bearer <token>")
    Principal.can_see_region(code) / .sees_all_regions / .region_filter /
        .can_read_full_id_number / .has_scope(scope)
    AccessRule(roles, scopes, region_params=(...), department_param=None)
    authorize(principal, rule, path_params, query_params)   raises Forbidden
        codes: forbidden_role (staff role not allowed), forbidden_scope (system caller without
        any of the rule's scopes), forbidden_region, forbidden_department
    require_region(principal, code), require_department(principal, department)
        the same checks for values found in bodies or loaded rows (in services)
    match_rule(rules, method, route_path) -> AccessRule | None
    present_id_number(principal, encrypted_or_plain, masked, *, vault=None) -> str
    mint_token(...), ensure_dev_keypair(directory), token_command(argv)   (development)

FastAPI
    AccessControl(verifier, rules, public_paths=OPERATIONS_PATHS, enabled=True)
    AccessControl.from_settings(security_settings, rules, public_paths=OPERATIONS_PATHS)
    install_access_control(app, control)   stores it on app.state, maps Unauthorized to a 401
                                           with WWW-Authenticate
    FastAPI(dependencies=[Depends(enforce_access)])   authenticates and authorizes every route:
        public route templates pass; other routes need a token and a rule in `rules`
        (default deny: a route without a rule answers 403 forbidden_role)
    PrincipalDep = Annotated[Principal, Depends(current_principal)]   in handlers
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import sys
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import jwt
import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from shared.errors import DomainError, Forbidden, error_body

if TYPE_CHECKING:
    from shared.pii import PiiVault
    from shared.security_settings import SecuritySettings

ROLES = frozenset({
    "township_staff", "department_officer", "medical_insurance_officer", "tax_officer",
    "finance_officer", "supervisor", "administrator",
})
DEPARTMENTS = frozenset({
    "civil_affairs", "disabled_persons_federation", "rural_revitalization", "health_commission",
    "veterans_affairs", "education",
})
DEPARTMENT_ALIASES = {"agriculture": "rural_revitalization"}
FULL_ID_ROLES = frozenset({"medical_insurance_officer", "administrator"})
PII_READ_SCOPE = "pii:read"
NATIONAL = "000000"
OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json",
                              "/docs/oauth2-redirect", "/redoc"})
TOKEN_COOKIE = "canbao_token"
DEFAULT_REGION_PARAMS = ("county_code", "township_code", "village_code", "region_code")
MAX_TOKEN_LENGTH = 8192

_CODE = re.compile(r"[0-9]{6}|[0-9]{12}")
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9Xx]")
_SCOPE = re.compile(r"[A-Za-z0-9_.:\-]+")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class Unauthorized(DomainError):
    """No usable credentials: missing, malformed, expired, or not signed by a trusted key."""

    status_code = 401
    code = "unauthenticated"

    @property
    def headers(self) -> dict[str, str]:
        description = self.message.replace('"', "'")
        return {"WWW-Authenticate":
                f'Bearer realm="canbao", error="invalid_token", error_description="{description}"'}


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_segment(segment: str, complaint: str) -> dict[str, Any]:
    try:
        value = orjson.loads(_b64decode(segment))
    except (ValueError, orjson.JSONDecodeError):
        raise Unauthorized(complaint) from None
    if not isinstance(value, dict):
        raise Unauthorized(complaint)
    return value


# --- regions ---------------------------------------------------------------------------------

def region_prefix(code: str) -> str | None:
    """The digits every code inside `code` starts with; None when `code` is not a region code.

    370000 -> "37", 370400 -> "3704", 370481 -> "370481", 370481000000 -> "370481",
    370481001000 -> "370481001", 370481001001 -> "370481001001", 000000 -> "" (everything).
    """
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        return None
    if len(code) == 12:
        if code.endswith("000000"):
            return region_prefix(code[:6])
        return code[:9] if code.endswith("000") else code
    if code == NATIONAL:
        return ""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def canonical_department(value: str) -> str:
    return DEPARTMENT_ALIASES.get(value, value)


# --- principal -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    kind: Literal["staff", "system"]
    role: str | None = None
    region: str | None = None
    department: str | None = None
    scopes: frozenset[str] = frozenset()
    expires_at: int = 0
    token_id: str | None = None
    _prefix: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind == "staff":
            if self.role not in ROLES:
                raise ValueError(f"unknown role {self.role!r}")
            if self.region is None:
                raise ValueError("staff need a region")
            if self.role == "department_officer":
                if self.department not in DEPARTMENTS:
                    raise ValueError(f"unknown department {self.department!r}")
            elif self.department is not None:
                raise ValueError("only department officers carry a department")
        elif self.role is not None or self.department is not None:
            raise ValueError("system callers carry scopes, not a role or department")
        if self.region is not None:
            prefix = region_prefix(self.region)
            if prefix is None:
                raise ValueError(f"region {self.region!r} is not a 6- or 12-digit region code")
            object.__setattr__(self, "_prefix", prefix)

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def is_system(self) -> bool:
        return self.kind == "system"

    def has_scope(self, scope: str) -> bool:
        return self.kind == "system" and scope in self.scopes

    def can_see_region(self, code: str) -> bool:
        """True when `code` is this principal's region or lies inside it. A system caller
        without a region claim is not limited by region (its scopes limit it)."""
        target = region_prefix(code)
        if target is None:
            return False
        if self._prefix is None:
            return self.kind == "system"
        return target.startswith(self._prefix)

    @property
    def sees_all_regions(self) -> bool:
        """True for a nationwide principal (region 000000) and a system caller without a
        region claim: no region check can refuse them (services skip loading rows for it)."""
        return self._prefix == "" or (self._prefix is None and self.kind == "system")

    @property
    def region_filter(self) -> str | None:
        """What lists filter their rows on, in SQL: None when this principal sees every
        region, else the digits every region code inside its region starts with
        (`WHERE code LIKE :prefix || '%'`; the digits hold no LIKE wildcards)."""
        return None if self.sees_all_regions else self._prefix

    @property
    def can_read_full_id_number(self) -> bool:
        if self.kind == "system":
            return PII_READ_SCOPE in self.scopes
        return self.role in FULL_ID_ROLES

    def audit_fields(self) -> dict[str, str | None]:
        return {"actor": self.subject, "role": self.role or "system", "region": self.region}


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Build a Principal from verified claims; ValueError when they do not describe one."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 128:
        raise ValueError("sub must be a non-empty string")
    region = claims.get("region")
    if region is not None and not isinstance(region, str):
        raise ValueError("region must be a string")
    exp = int(claims.get("exp", 0))
    jti = claims.get("jti") if isinstance(claims.get("jti"), str) else None
    if "role" in claims:
        department = claims.get("department")
        if department is not None:
            if not isinstance(department, str):
                raise ValueError("department must be a string")
            department = canonical_department(department)
        # Staff rights come from the role alone: any `scope` claim on a staff token is ignored.
        return Principal(subject=sub, kind="staff", role=claims["role"], region=region,
                         department=department, expires_at=exp, token_id=jti)
    raw_scope = claims.get("scope", "")
    if not isinstance(raw_scope, str):
        raise ValueError("scope must be a space-separated string")
    scopes = frozenset(raw_scope.split())
    if not scopes:
        raise ValueError("a token needs a role (staff) or a scope (system caller)")
    if not all(_SCOPE.fullmatch(s) for s in scopes):
        raise ValueError("scope contains invalid characters")
    return Principal(subject=sub, kind="system", region=region, scopes=scopes,
                     expires_at=exp, token_id=jti)


# --- verification ----------------------------------------------------------------------------

PublicKey = ed25519.Ed25519PublicKey | rsa.RSAPublicKey


def _load_public_key(value: bytes | str | PublicKey) -> tuple[PublicKey, str]:
    key: Any = value
    if isinstance(value, str | bytes):
        key = serialization.load_pem_public_key(value.encode() if isinstance(value, str) else value)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key, "EdDSA"
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError("RSA keys must have at least 2048 bits")
        return key, "RS256"
    raise ValueError(f"unsupported public key type {type(key).__name__}: use Ed25519 or RSA")


class Verifier:
    """Verifies bearer tokens against the configured public keys. Parsed keys are kept; a
    verified token is remembered (bounded LRU, keyed by the token string) until it expires."""

    def __init__(self, public_keys: Mapping[str, bytes | str | PublicKey], *, issuer: str,
                 audience: str, leeway_seconds: int = 30, max_lifetime_seconds: int = 86_400,
                 cache_size: int = 10_000) -> None:
        self._keys = {kid: _load_public_key(pem) for kid, pem in public_keys.items()}
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway_seconds
        self.max_lifetime = max_lifetime_seconds
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Principal] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: SecuritySettings) -> Verifier:
        return cls(settings.public_key_pems(), issuer=settings.jwt_issuer,
                   audience=settings.jwt_audience, leeway_seconds=settings.jwt_leeway_seconds,
                   max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
                   cache_size=settings.jwt_cache_size)

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def authenticate(self, authorization: str | None) -> Principal:
        """Verify an `Authorization` header value (`Bearer <token>`)."""
        if not authorization:
            raise Unauthorized("an Authorization: Bearer token is required")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return self.verify(token.strip())

    def verify(self, token: str) -> Principal:
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at + self.leeway > now:
                self._cache.move_to_end(token)
                return cached
            del self._cache[token]
            raise Unauthorized("the token has expired")
        if len(token) > MAX_TOKEN_LENGTH:
            raise Unauthorized("the token is too long")
        claims = self._verified_claims(token, now)
        if claims["exp"] - now > self.max_lifetime + self.leeway:
            raise Unauthorized("the token is valid for longer than allowed")
        try:
            principal = principal_from_claims(claims)
        except ValueError as exc:
            raise Unauthorized(f"the token's claims are not valid: {exc}") from None
        if self.cache_size:
            self._cache[token] = principal
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return principal


    def _verified_claims(self, token: str, now: float) -> dict[str, Any]:
        """Compact JWS checked by hand (PyJWT's decoder costs more than the signature check):
        header -> key by kid -> the key's one algorithm -> signature -> registered claims."""
        parts = token.split(".")
        if len(parts) != 3 or not all(_B64URL.fullmatch(p) for p in parts):
            raise Unauthorized("the token is malformed")
        header_b64, payload_b64, signature_b64 = parts
        header = _json_segment(header_b64, "the token is malformed")
        kid = header.get("kid")
        entry = self._keys.get(kid) if isinstance(kid, str) else None
        if entry is None:
            raise Unauthorized("the token is not signed by a known key")
        key, algorithm = entry
        if header.get("alg") != algorithm:
            raise Unauthorized(f"key {kid} accepts only {algorithm} signatures")
        if "crit" in header:
            raise Unauthorized("the token uses critical header extensions")
        signed = f"{header_b64}.{payload_b64}".encode("ascii")
        try:
            signature = _b64decode(signature_b64)
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, signed)
            else:
                key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            raise Unauthorized("the token signature is not valid") from None
        claims = _json_segment(payload_b64, "the token payload is malformed")
        for name in ("exp", "iss", "aud", "sub"):
            if name not in claims:
                raise Unauthorized(f"the token lacks the '{name}' claim")
        if claims["iss"] != self.issuer:
            raise Unauthorized("the token is from another issuer")
        aud = claims["aud"]
        if not (aud == self.audience or (isinstance(aud, list) and self.audience in aud)):
            raise Unauthorized("the token is for another audience")
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name)
            if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise Unauthorized(f"the token's '{name}' claim is not a number")
        if claims["exp"] <= now - self.leeway:
            raise Unauthorized("the token has expired")
        if claims.get("nbf", 0) > now + self.leeway or claims.get("iat", 0) > now + self.leeway:
            raise Unauthorized("the token is not valid yet")
        return claims

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
              query_params: Mapping[str, Any]) -> None:
    """Raise Forbidden unless `principal` may make this call (see AccessRule)."""
    if principal.kind == "system":
        if not principal.scopes & rule.scopes:
            needed = " or ".join(sorted(rule.scopes)) or "(no system access)"
            raise Forbidden(f"this call needs scope {needed}", code="forbidden_scope")
    elif principal.role not in rule.roles:
        raise Forbidden(f"role {principal.role} may not make this call", code="forbidden_role")
    for name in rule.region_params:
        for value in _param_values(name, path_params, query_params):
            require_region(principal, value)
    if rule.department_param:
        for value in _param_values(rule.department_param, path_params, query_params):
            require_department(principal, value)


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

    @classmethod
    def from_settings(cls, settings: SecuritySettings,
                      rules: Mapping[tuple[str, str], AccessRule],
                      public_paths: Iterable[str] = OPERATIONS_PATHS) -> AccessControl:
        return cls(verifier=Verifier.from_settings(settings) if settings.auth_enabled else None,
                   rules=rules, public_paths=frozenset(public_paths),
                   enabled=settings.auth_enabled)


def install_access_control(app: FastAPI, control: AccessControl) -> None:
    if control.enabled and control.verifier is None:
        raise ValueError("access control is enabled but has no verifier")
    app.state.access_control = control

    async def _unauthorized(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Unauthorized)
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
    enforce(control, request.scope.setdefault("state", {}), request.method, template,
            request.headers.get("authorization"), request.cookies.get(TOKEN_COOKIE),
            request.path_params, request.query_params)


def enforce(control: AccessControl, state: dict[str, Any], method: str, template: str,
            authorization: str | None, cookie_token: str | None,
            path_params: Mapping[str, Any], query_params: Mapping[str, Any]) -> None:
    """Authenticate, then authorize against the rule of (method, route template). The
    principal lands in `state` (the ASGI scope's, which `request.state` reads and the audit
    log records) before any refusal. A token cookie stands in for a missing Authorization
    header (server-rendered pages opened in a browser)."""
    if template in control.public_paths:
        return
    if not control.enabled:
        state["principal"] = UNAUTHENTICATED_DEVELOPER
        return
    assert control.verifier is not None
    if not authorization and cookie_token:
        authorization = f"Bearer {cookie_token}"
    principal = state["principal"] = control.verifier.authenticate(authorization)
    rule = match_rule(control.rules, method, template)
    if rule is None:
        raise Forbidden(f"no access rule allows {method} {template}", code="forbidden_role")
    authorize(principal, rule, path_params, query_params)


def current_principal(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise Unauthorized("an Authorization: Bearer token is required")
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


# --- development tokens ----------------------------------------------------------------------

def _load_private_key(pem: bytes | str) -> tuple[Any, str]:
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem,
                                             password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key, "EdDSA"
    if isinstance(key, rsa.RSAPrivateKey):
        return key, "RS256"
    raise ValueError("signing keys must be Ed25519 or RSA")


def mint_token(private_key_pem: bytes | str, kid: str, *, sub: str, role: str | None = None,
               region: str | None = None, department: str | None = None,
               scopes: Iterable[str] = (), ttl_seconds: int = 3600, issuer: str,
               audience: str) -> str:
    """Sign a token (development and tests; production tokens come from the identity
    provider). The claims are checked the way the verifier will check them."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": issuer, "aud": audience, "sub": sub, "iat": now,
                              "exp": now + ttl_seconds, "jti": uuid.uuid4().hex}
    if role is not None:
        claims["role"] = role
    if region is not None:
        claims["region"] = region
    if department is not None:
        claims["department"] = department
    scope_list = sorted(set(scopes))
    if scope_list:
        claims["scope"] = " ".join(scope_list)
    principal_from_claims(claims)
    key, algorithm = _load_private_key(private_key_pem)
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def key_id(public_key: PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return "dev-" + hashlib.sha256(raw).hexdigest()[:16]


def ensure_dev_keypair(directory: Path) -> tuple[Path, Path, str]:
    """An Ed25519 key pair in `directory` (created once, private key 0600): returns
    (private key path, public key path `<kid>.pub.pem`, kid). Point
    CANBAO_JWT_PUBLIC_KEYS_DIR at `directory` so the services trust it."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_path = directory / "dev-signing.key"
    if not private_path.exists():
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        temp = directory / f".dev-signing.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        try:
            os.link(temp, private_path)  # atomic; loses quietly to a concurrent creator
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    private_key, _ = _load_private_key(private_path.read_bytes())
    public_key = private_key.public_key()
    kid = key_id(public_key)
    public_path = directory / f"{kid}.pub.pem"
    if not public_path.exists():
        public_path.write_bytes(public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path, kid


def token_command(argv: Sequence[str] | None = None) -> int:
    """`canbao token`: print a development token signed with the dev key."""
    from shared.security_settings import SecuritySettings

    parser = argparse.ArgumentParser(prog="canbao token",
                                     description="Print a signed development token.")
    parser.add_argument("--role", choices=sorted(ROLES),
                        help="staff role (omit for a system caller with --scope)")
    parser.add_argument("--region", help="county, township or village code (staff)")
    parser.add_argument("--department", choices=sorted(DEPARTMENTS))
    parser.add_argument("--scope", action="append", default=[],
                        help="system scope, repeatable or space-separated")
    parser.add_argument("--sub", help="subject: staff id or system name")
    parser.add_argument("--ttl", type=int, default=3600, help="seconds the token is valid")
    parser.add_argument("--keys-dir", type=Path,
                        default=Path(os.environ.get("CANBAO_STATE_DIR", ".canbao")) / "keys")
    args = parser.parse_args(argv)
    settings = SecuritySettings()
    scopes = [s for chunk in args.scope for s in chunk.split()]
    if (args.role is None) == (not scopes):
        parser.error("give either --role (staff) or --scope (system caller)")
    if args.ttl <= 0 or args.ttl > settings.jwt_max_lifetime_seconds:
        parser.error(f"--ttl must be between 1 and {settings.jwt_max_lifetime_seconds} s")
    sub = args.sub or (f"{args.role}@{args.region}" if args.role else "dev-system")
    private_path, _, kid = ensure_dev_keypair(args.keys_dir)
    try:
        token = mint_token(private_path.read_bytes(), kid, sub=sub, role=args.role,
                           region=args.region, department=args.department,
                           scopes=scopes, ttl_seconds=args.ttl,
                           issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    except ValueError as exc:
        print(f"canbao token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0
