"""Bearer token verification with PyJWT: signature, algorithm allow-list, issuer, audience,
expiry, and keys from the identity provider's JWKS (rotated keys picked up by key id).

Keys (shared/token_keys.py)
    Two sources, used together: keys configured by hand (PEM, by key id: the development key
    in `.canbao/keys` is loaded this way, as a local key set) and the provider's JWKS URL
    (`CANBAO_JWT_JWKS_URL`, or the `jwks_uri` of the OpenID discovery document). The key set
    is fetched with PyJWT's `PyJWKClient`, kept for `jwks_cache_seconds`, and fetched again
    when a token names a key id it does not hold (a rotation), at most once per
    `jwks_cooldown_seconds` so that made-up key ids cannot make us hammer the provider.

Algorithms
    Each key fixes the one algorithm it accepts (its JWK `alg`, else what its type implies:
    RSA -> RS256, Ed25519 -> EdDSA, P-256 -> ES256), and that algorithm must be in the
    allow-list (`CANBAO_JWT_ALGORITHMS`). So `none`, HS256 and algorithm-confusion tricks are
    refused; RSA keys need 2048 bits at least.

Claims
    `iss`, `aud`, `exp` and `sub` are required; `exp`/`nbf`/`iat` are checked with a small
    leeway, and tokens valid for longer than the configured maximum are refused. Where the
    role, region and department are is configurable (`ClaimNames`, shared/principals.py).

Cost
    A verified token is remembered until it expires (LRU, `cache_size`), so a client's
    repeated calls cost well under a microsecond; the first check is one signature check plus
    PyJWT's claim checks. There is no revocation list: keep token lifetimes short.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import jwt

from shared.errors import DomainError
from shared.i18n import Text
from shared.principals import DEFAULT_CLAIMS, ClaimNames, Principal, principal_from_claims
from shared.token_keys import DEFAULT_ALGORITHMS, JwksKeys, KeyEntry, PublicKey, load_public_key

if TYPE_CHECKING:
    from shared.security_settings import SecuritySettings

log = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 8192


class Unauthorized(DomainError):
    """No usable credentials: missing, malformed, expired, or not signed by a trusted key."""

    status_code = 401
    code = "unauthenticated"

    @property
    def headers(self) -> dict[str, str]:
        description = "".join(c for c in self.message if c.isascii() and c.isprintable())
        description = description.replace('"', "'").strip(" ()")
        return {"WWW-Authenticate":
                f'Bearer realm="canbao", error="invalid_token", error_description="{description}"'}


def _fail(chinese: str, english: str) -> Unauthorized:
    return Unauthorized(f"{chinese}（{english}）", params={"reason": Text(chinese, english)})


_REGISTERED = ("exp", "iss", "aud", "sub")


class Verifier:
    """Verifies bearer tokens against the configured keys and the provider's JWKS. A verified
    token is remembered (bounded LRU, keyed by the token string) until it expires."""

    def __init__(self, public_keys: Mapping[str, bytes | str | PublicKey] | None = None, *,
                 issuer: str, audience: str, leeway_seconds: int = 30,
                 max_lifetime_seconds: int = 86_400, cache_size: int = 10_000,
                 jwks: JwksKeys | None = None,
                 algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
                 claims: ClaimNames = DEFAULT_CLAIMS) -> None:
        self.algorithms = frozenset(algorithms)
        self._keys = {kid: load_public_key(pem) for kid, pem in (public_keys or {}).items()}
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway_seconds
        self.max_lifetime = max_lifetime_seconds
        self.cache_size = cache_size
        self.claims = claims
        self._cache: OrderedDict[str, Principal] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: SecuritySettings) -> Verifier:
        jwks = None
        jwks_url = settings.jwks_url_source()
        if jwks_url is not None:
            jwks = JwksKeys(jwks_url, algorithms=settings.jwt_algorithms,
                            lifespan=settings.jwt_jwks_cache_seconds,
                            cooldown=settings.jwt_jwks_cooldown_seconds)
        return cls(settings.public_key_pems(), issuer=settings.jwt_issuer,
                   audience=settings.jwt_audience, leeway_seconds=settings.jwt_leeway_seconds,
                   max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
                   cache_size=settings.jwt_cache_size, jwks=jwks,
                   algorithms=settings.jwt_algorithms, claims=settings.claim_names())

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys) | (self.jwks.key_ids if self.jwks else frozenset())

    def authenticate(self, authorization: str | None) -> Principal:
        """Verify an `Authorization` header value (`Bearer <token>`)."""
        return self.verify(bearer_token(authorization))

    def needs_fetch(self, token: str) -> bool:
        """True when verifying `token` would fetch the JWKS (an unknown key id)."""
        if self.jwks is None or token in self._cache:
            return False
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return False
        return isinstance(kid, str) and kid not in self._keys and self.jwks.would_fetch(kid)

    def fetch_keys_for(self, token: str) -> None:
        """Fetch the provider's key set if `token` names a key id not held (blocking)."""
        if self.needs_fetch(token) and self.jwks is not None:
            self.jwks.get(jwt.get_unverified_header(token)["kid"])

    def _key_for(self, kid: str) -> KeyEntry | None:
        entry = self._keys.get(kid)
        if entry is None and self.jwks is not None:
            entry = self.jwks.get(kid)
        return entry

    def verify(self, token: str) -> Principal:
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at + self.leeway > now:
                self._cache.move_to_end(token)
                return cached
            del self._cache[token]
            raise _fail("令牌已过期", "the token has expired")
        claims = self.claims_of(token, now=now)
        if claims["exp"] - now > self.max_lifetime + self.leeway:
            raise _fail("令牌有效期超过允许的上限", "the token is valid for longer than allowed")
        try:
            principal = principal_from_claims(claims, self.claims)
        except ValueError as exc:
            raise _fail("令牌中的身份声明无效",
                        f"the token's claims are not valid: {exc}") from None
        if self.cache_size:
            self._cache[token] = principal
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return principal

    def claims_of(self, token: str, *, audience: str | None = None,
                  now: float | None = None) -> dict[str, Any]:
        """The verified claims of `token` (for `audience`, default ours): PyJWT checks the
        signature with the key its `kid` names, in that key's one algorithm, and the
        registered claims."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise _fail("令牌过长", "the token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _fail("令牌格式不正确", "the token is malformed") from None
        kid = header.get("kid")
        entry = self._key_for(kid) if isinstance(kid, str) else None
        if entry is None:
            raise _fail("令牌不是由受信任的密钥签发的", "the token is not signed by a known key")
        key, algorithm = entry
        if algorithm not in self.algorithms:
            raise _fail("该密钥的签名算法不在允许列表中", f"{algorithm} is not allowed")
        if header.get("alg") != algorithm:
            raise _fail("签名算法与密钥不符", f"key {kid} accepts only {algorithm} signatures")
        if "crit" in header:
            raise _fail("令牌使用了关键扩展头", "the token uses critical header extensions")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[algorithm], audience=audience or self.audience,
                issuer=self.issuer, leeway=self.leeway,
                options={"require": list(_REGISTERED), "verify_sub": True})
        except jwt.ExpiredSignatureError:
            raise _fail("令牌已过期", "the token has expired") from None
        except jwt.InvalidAudienceError:
            raise _fail("令牌是发给其他系统的", "the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise _fail("令牌来自其他签发方", "the token is from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise _fail(f"令牌缺少 '{exc.claim}' 声明",
                        f"the token lacks the '{exc.claim}' claim") from None
        except jwt.ImmatureSignatureError:
            raise _fail("令牌尚未生效", "the token is not valid yet") from None
        except jwt.InvalidSignatureError:
            raise _fail("令牌签名无效", "the token signature is not valid") from None
        except jwt.exceptions.InvalidSubjectError:
            raise _fail("令牌的 'sub' 声明无效", "the token's 'sub' claim is not valid") from None
        except jwt.DecodeError as exc:
            if "must be" in str(exc):  # exp/iat/nbf of the wrong type
                raise _fail("令牌的时间声明不是数字",
                            "the token's time claim is not a number") from None
            raise _fail("令牌格式不正确", "the token is malformed") from None
        except jwt.PyJWTError as exc:
            raise _fail("令牌无效", f"the token is not valid: {type(exc).__name__}") from None
        for name in ("exp", "nbf", "iat"):
            if isinstance(claims.get(name), bool):
                raise _fail("令牌的时间声明不是数字", f"the token's '{name}' claim is not a number")
        return claims


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise _fail("需要 Authorization: Bearer 令牌", "an Authorization: Bearer token is required")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _fail("Authorization 头必须是 'Bearer <令牌>'",
                    "the Authorization header must be 'Bearer <token>'")
    return token.strip()
