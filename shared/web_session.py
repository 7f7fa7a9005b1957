"""Browser sessions for staff, and the Origin check that keeps them from being used by other
sites (CSRF).

Session cookie (`canbao_session`)
    Set after an OpenID Connect sign-in (shared/oidc.py): the principal the provider's token
    described (subject, role, region, department or scopes) and an expiry, signed with
    HMAC-SHA256 under the session secret (`CANBAO_SESSION_SECRET`, shared by every replica and
    service of one deployment). HttpOnly, SameSite=Lax, Secure except on plain-http loopback
    (development), Path=/. Nothing in it is secret; a changed byte or a past expiry makes it
    worthless (the caller is then unauthenticated and a browser is sent to sign in again).

Origin check
    A write (POST, PUT, PATCH, DELETE) authenticated by a cookie must come from one of the
    service's own origins: its `Origin` header, else the origin of its `Referer`, must be one
    of `CANBAO_PUBLIC_ORIGINS` (when set) or the origin the request was addressed to. A
    foreign or missing one is refused with 403 `forbidden_origin`. Requests with a Bearer
    token are not affected (another site cannot make a browser send one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from shared.errors import Forbidden
from shared.principals import Principal

SESSION_COOKIE = "canbao_session"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_VERSION = "v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SessionSigner:
    """Signs and checks values kept in cookies (the session, the sign-in flow's state)."""

    secret: bytes
    max_age_seconds: int = 8 * 3600

    @classmethod
    def random(cls, max_age_seconds: int = 8 * 3600) -> SessionSigner:
        return cls(secrets.token_bytes(32), max_age_seconds)

    def _mac(self, purpose: str, payload: str) -> str:
        return _b64(hmac.new(self.secret, f"{purpose}.{payload}".encode(), hashlib.sha256)
                    .digest())

    def sign(self, purpose: str, data: dict[str, Any], ttl_seconds: int) -> str:
        body = _b64(orjson.dumps({**data, "exp": int(time.time()) + ttl_seconds}))
        return f"{_VERSION}.{body}.{self._mac(purpose, body)}"

    def unsign(self, purpose: str, value: str | None) -> dict[str, Any] | None:
        """The data signed for `purpose`, or None when it is missing, altered or expired."""
        if not value or len(value) > 4096:
            return None
        version, _, rest = value.partition(".")
        body, _, mac = rest.partition(".")
        if version != _VERSION or not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        try:
            data = orjson.loads(_unb64(body))
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("exp"), int) or \
                data["exp"] <= time.time():
            return None
        return data

    # --- the session ---

    def session_value(self, principal: Principal, ttl_seconds: int | None = None) -> str:
        ttl = min(ttl_seconds or self.max_age_seconds, self.max_age_seconds)
        return self.sign("session", {
            "sub": principal.subject, "kind": principal.kind, "role": principal.role,
            "region": principal.region, "department": principal.department,
            "scopes": sorted(principal.scopes), "sid": secrets.token_urlsafe(9),
            # to the millisecond: a session signed in the second its subject's sessions were
            # revoked, but after the revocation, must not count as revoked (revocations
            # compare it with the revocation's own time, to the microsecond)
            "iat": round(time.time(), 3),
        }, ttl)

    def principal(self, value: str | None) -> Principal | None:
        data = self.unsign("session", value)
        if data is None:
            return None
        try:
            return Principal(subject=data["sub"], kind=data["kind"], role=data.get("role"),
                             region=data.get("region"), department=data.get("department"),
                             scopes=frozenset(data.get("scopes") or ()),
                             expires_at=data["exp"], token_id=data.get("sid"),
                             issued_at=float(data.get("iat") or
                                           data["exp"] - self.max_age_seconds))
        except (KeyError, TypeError, ValueError):
            return None


# --- cookies ---------------------------------------------------------------------------------

def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cookie_secure(url_scheme: str, host: str) -> bool:
    """Secure cookies everywhere but plain-http loopback (development on this machine)."""
    return not (url_scheme == "http" and is_loopback(host))


def cookie_attributes(url_scheme: str, host: str, *, path: str = "/",
                      max_age: int | None = None) -> dict[str, Any]:
    """Keyword arguments for Starlette's `Response.set_cookie`."""
    return {"path": path, "max_age": max_age, "httponly": True, "samesite": "lax",
            "secure": cookie_secure(url_scheme, host)}


# --- origins ---------------------------------------------------------------------------------

def origin_of(url: str | None) -> str | None:
    """scheme://host[:port] of a URL, lower-cased, default ports dropped; None if not http(s)."""
    if not url or url == "null":
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def normalise_origins(origins: Iterable[str]) -> frozenset[str]:
    found = set()
    for value in origins:
        origin = origin_of(value)
        if origin is None:
            raise ValueError(f"{value!r} is not an http(s) origin")
        found.add(origin)
    return frozenset(found)


def check_origin(method: str, origin: str | None, referer: str | None,
                 allowed: frozenset[str], own_origin: str | None) -> None:
    """Refuse a cookie-authenticated write whose Origin (else Referer) is not one of ours."""
    if method.upper() not in WRITE_METHODS:
        return
    claimed = origin_of(origin) if origin else origin_of(referer)
    ours = allowed or frozenset(o for o in (origin_of(own_origin),) if o)
    if claimed is None:
        raise Forbidden("以登录会话提交的修改必须带有本站的 Origin 或 Referer 请求头"
                        "（a write made with a session cookie needs this site's Origin header）",
                        code="forbidden_origin")
    if claimed not in ours:
        raise Forbidden(f"来自其他网站（{claimed}）的修改请求被拒绝"
                        f"（writes from {claimed} are refused）",
                        code="forbidden_origin", details={"origin": claimed})
