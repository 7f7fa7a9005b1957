"""Security settings (authentication, request limits), read from CANBAO_* environment variables.

Kept apart from `shared/settings.py` so the two can change independently; no field here
shares a name with a field there. Complex values are JSON, as pydantic-settings reads them:

    CANBAO_AUTH_ENABLED              require a token on non-public routes (false: dev/test only)
                                     default true
    CANBAO_JWT_ISSUER                expected `iss`, default "canbao"
    CANBAO_JWT_AUDIENCE              expected `aud`, default "canbao"
    CANBAO_JWT_PUBLIC_KEYS           JSON {"kid": "<PEM text or path to a PEM file>"}, default {}
    CANBAO_JWT_PUBLIC_KEYS_DIR       folder of <kid>.pub.pem files (canbao dev: .canbao/keys)
    CANBAO_JWT_LEEWAY_SECONDS        clock skew allowed on exp/nbf/iat, default 30
    CANBAO_JWT_MAX_LIFETIME_SECONDS  refuse tokens valid longer than this from now, default 86400
    CANBAO_JWT_CACHE_SIZE            verified tokens remembered per process (LRU), default 10000
    CANBAO_JWT_JWKS_URL              the identity provider's JWKS URL (default: the `jwks_uri`
                                     of the discovery document when CANBAO_OIDC_ISSUER is set)
    CANBAO_JWT_JWKS_CACHE_SECONDS    how long a fetched key set is kept, default 300
    CANBAO_JWT_JWKS_COOLDOWN_SECONDS least seconds between fetches for an unknown key id, 30
    CANBAO_JWT_ALGORITHMS            JSON list of accepted algorithms, default
                                     ["EdDSA", "RS256", "PS256", "ES256"]
    CANBAO_JWT_ROLE_CLAIM            where the role is (dotted path), default "role"; Keycloak:
                                     "realm_access.roles"
    CANBAO_JWT_REGION_CLAIM          default "region"
    CANBAO_JWT_DEPARTMENT_CLAIM      default "department"
    CANBAO_OIDC_ISSUER               the OpenID provider's issuer: turns on browser sign-in
                                     (and is the expected `iss` unless CANBAO_JWT_ISSUER is set)
    CANBAO_OIDC_DISCOVERY_URL        where the services fetch the discovery document, default
                                     <issuer>/.well-known/openid-configuration
    CANBAO_OIDC_CLIENT_ID            the services' client at the provider
    CANBAO_OIDC_CLIENT_SECRET        its secret (omit for a public client: PKCE alone)
    CANBAO_OIDC_SCOPES               default "openid profile"
    CANBAO_PUBLIC_ORIGINS            JSON list of this service's public origins
                                     (["https://canbao.example.gov.cn"]): cookie-authenticated
                                     writes must come from one of them, the first is where the
                                     provider sends browsers back; default: the request's own
    CANBAO_SESSION_SECRET            signs session cookies, 32+ characters, the same for every
                                     service and replica (development: derived from the dev key)
    CANBAO_SESSION_MAX_AGE_SECONDS   how long a browser session lasts, default 28800 (8 h)
    CANBAO_MAX_BODY_BYTES            request body limit (JSON, raw bodies), default 1 MiB
    CANBAO_MAX_UPLOAD_BYTES          body limit for multipart/form-data, default 50 MiB
    CANBAO_BODY_LIMITS               JSON {"/prefix": bytes} overrides, default
                                     {"/v1/statements/": 200 MiB, "/v1/proxy-batches": 64 MiB}
    CANBAO_RATE_LIMIT_ENABLED        per-client token buckets on or off, default true
    CANBAO_RATE_LIMITS               JSON {"/v1/bills": {"rate": 200, "burst": 400}} (the default)
    CANBAO_RATE_LIMIT_DEFAULT        JSON {"rate": r, "burst": b} for other paths, default none
    CANBAO_RATE_LIMIT_SHARED         keep the buckets in the service's database, shared by all
                                     its replicas (default true; false: per process)
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import cached_property, lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.dev_keys import dev_session_secret
from shared.limits import RateLimit
from shared.oidc_discovery import OidcProvider
from shared.principals import ClaimNames
from shared.web_session import normalise_origins

PLACEHOLDERS = ("replace-with", "change-me", "changeme")
ALGORITHMS = frozenset({"EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                        "ES256", "ES384"})

MIB = 1024 * 1024


class SecuritySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CANBAO_", extra="ignore")

    auth_enabled: bool = True
    jwt_issuer: str = "canbao"
    jwt_audience: str = "canbao"
    jwt_public_keys: dict[str, str] = Field(default_factory=dict)
    jwt_public_keys_dir: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    jwt_max_lifetime_seconds: int = Field(default=86_400, ge=60, le=30 * 86_400)
    jwt_cache_size: int = Field(default=10_000, ge=0, le=1_000_000)
    jwt_jwks_url: str | None = None
    jwt_jwks_cache_seconds: int = Field(default=300, ge=1, le=86_400)
    jwt_jwks_cooldown_seconds: float = Field(default=30, ge=0, le=3600)
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["EdDSA", "RS256", "PS256",
                                                               "ES256"])
    jwt_role_claim: str = "role"
    jwt_region_claim: str = "region"
    jwt_department_claim: str = "department"

    oidc_issuer: str | None = None
    oidc_discovery_url: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid profile"
    public_origins: list[str] = Field(default_factory=list)
    session_secret: str | None = None
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60, le=7 * 86_400)
    # where ended sessions are kept (shared/session_revocation.py); empty: the service's database
    session_database_url: str | None = None
    session_revocation_refresh_seconds: float = Field(default=5.0, gt=0, le=300)

    max_body_bytes: int = Field(default=1 * MIB, ge=1024)
    max_upload_bytes: int = Field(default=50 * MIB, ge=1024)
    # Raw channel statements (payments accepts up to 200 MiB) and proxy-payment batches of up
    # to 200,000 rows of JSON are legitimately large; everything else is small.
    body_limits: dict[str, int] = Field(
        default_factory=lambda: {"/v1/statements/": 200 * MIB, "/v1/proxy-batches": 64 * MIB}
    )

    rate_limit_enabled: bool = True
    rate_limits: dict[str, RateLimit] = Field(
        default_factory=lambda: {"/v1/bills": RateLimit(rate=200, burst=400)}
    )
    rate_limit_default: RateLimit | None = None
    rate_limit_shared: bool = True

    @model_validator(mode="after")
    def _issuer_from_provider(self) -> SecuritySettings:
        """With a provider configured, its issuer is the expected `iss` unless set apart."""
        if self.oidc_issuer and "jwt_issuer" not in self.model_fields_set:
            self.jwt_issuer = self.oidc_issuer
        unknown = set(self.jwt_algorithms) - ALGORITHMS
        if unknown or not self.jwt_algorithms:
            raise ValueError(f"CANBAO_JWT_ALGORITHMS: choose among {sorted(ALGORITHMS)}")
        return self

    def claim_names(self) -> ClaimNames:
        return ClaimNames(role=self.jwt_role_claim, region=self.jwt_region_claim,
                          department=self.jwt_department_claim)

    @cached_property
    def oidc_provider(self) -> OidcProvider | None:
        if not self.oidc_issuer:
            return None
        return OidcProvider(self.oidc_issuer, self.oidc_discovery_url)

    def jwks_url_source(self) -> str | Callable[[], str] | None:
        """The JWKS URL, or a callable that reads it from the discovery document (when first
        needed: the services start while the provider is down)."""
        if self.jwt_jwks_url:
            return self.jwt_jwks_url
        provider = self.oidc_provider
        return provider.jwks_uri if provider is not None else None

    def session_key(self) -> bytes:
        """The session-signing secret: CANBAO_SESSION_SECRET, else (development) one derived
        from the dev signing key, else a random one for this process."""
        if self.session_secret:
            return self.session_secret.encode()
        return dev_session_secret(self.jwt_public_keys_dir) or secrets.token_bytes(32)

    def public_key_pems(self) -> dict[str, bytes]:
        """Every configured public key as PEM bytes, by kid (explicit keys win over the folder)."""
        keys: dict[str, bytes] = {}
        if self.jwt_public_keys_dir:
            folder = Path(self.jwt_public_keys_dir)
            if folder.is_dir():
                for path in sorted(folder.glob("*.pub.pem")):
                    keys[path.name.removesuffix(".pub.pem")] = path.read_bytes()
        for kid, value in self.jwt_public_keys.items():
            text = value.strip()
            keys[kid] = text.encode() if text.startswith("-----BEGIN") else Path(text).read_bytes()
        return keys

    def problems_for(self, environment: str) -> list[str]:
        """What makes these settings unfit for `environment` (call at startup; empty = fine)."""
        problems: list[str] = []
        if environment == "production":
            if not self.auth_enabled:
                problems.append("CANBAO_AUTH_ENABLED must not be false in production")
            if not self.public_key_pems() and not self.jwt_jwks_url and not self.oidc_issuer:
                problems.append("no JWT key configured (CANBAO_OIDC_ISSUER, CANBAO_JWT_JWKS_URL,"
                                " CANBAO_JWT_PUBLIC_KEYS or CANBAO_JWT_PUBLIC_KEYS_DIR): every "
                                "request would be refused")
            if self.oidc_issuer and not self.oidc_client_id:
                problems.append("CANBAO_OIDC_CLIENT_ID is needed with CANBAO_OIDC_ISSUER")
            if self.oidc_issuer and len(self.session_secret or "") < 32:
                problems.append("CANBAO_SESSION_SECRET (32+ characters, the same for every "
                                "service) is needed for browser sign-in")
            for name, value in (("CANBAO_SESSION_SECRET", self.session_secret),
                                ("CANBAO_OIDC_CLIENT_SECRET", self.oidc_client_secret)):
                if value and any(p in value.lower() for p in PLACEHOLDERS):
                    problems.append(f"{name} is still the example's placeholder")
        try:
            normalise_origins(self.public_origins)
        except ValueError as exc:
            problems.append(f"CANBAO_PUBLIC_ORIGINS: {exc}")
        return problems


@lru_cache
def get_security_settings() -> SecuritySettings:
    return SecuritySettings()
