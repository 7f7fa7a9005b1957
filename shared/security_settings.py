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
    CANBAO_MAX_BODY_BYTES            request body limit (JSON, raw bodies), default 1 MiB
    CANBAO_MAX_UPLOAD_BYTES          body limit for multipart/form-data, default 50 MiB
    CANBAO_BODY_LIMITS               JSON {"/prefix": bytes} overrides, default
                                     {"/v1/statements/": 200 MiB, "/v1/proxy-batches": 64 MiB}
    CANBAO_RATE_LIMIT_ENABLED        per-client token buckets on or off, default true
    CANBAO_RATE_LIMITS               JSON {"/v1/bills": {"rate": 200, "burst": 400}} (the default)
    CANBAO_RATE_LIMIT_DEFAULT        JSON {"rate": r, "burst": b} for other paths, default none
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.limits import RateLimit

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
            if not self.public_key_pems():
                problems.append("no JWT public key configured (CANBAO_JWT_PUBLIC_KEYS or "
                                "CANBAO_JWT_PUBLIC_KEYS_DIR): every request would be refused")
        return problems


@lru_cache
def get_security_settings() -> SecuritySettings:
    return SecuritySettings()
