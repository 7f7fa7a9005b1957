"""One settings class for every service, read from CANBAO_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("registration", "eligibility", "payments", "reporting")
DEFAULT_PORTS = {"registration": 8001, "eligibility": 8002, "payments": 8003, "reporting": 8004}
DEV_PII_KEY = "dev-only-pii-key-change-me-in-production-000000"
# Secrets still holding one of these are an example's placeholder, never a real key.
PLACEHOLDER_MARKERS = ("replace-with", "change-me", "changeme", "dev-only", "example", "secret")
MIN_SECRET_LENGTH = 32


def secret_problem(name: str, value: str) -> str | None:
    """Why `value` is not fit to be the secret `name` outside development and tests."""
    lowered = value.lower()
    if value == DEV_PII_KEY or any(m in lowered for m in PLACEHOLDER_MARKERS):
        return f"{name} is still a placeholder; set a random secret of 32+ characters"
    if len(value) < MIN_SECRET_LENGTH:
        return f"{name} is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(value)) < 10:
        return f"{name} repeats too few characters to be a random secret"
    return None


class PiiKeySpec(BaseModel):
    """An earlier PII key, still read (CANBAO_PII_PREVIOUS_KEYS) until rotation is done."""

    model_config = {"extra": "forbid"}
    suite: Literal["aes", "sm4"] = "aes"
    key: str = Field(min_length=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CANBAO_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/canbao"
    database_pool_size: int = Field(10, ge=1, le=200)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Apache Kafka supports the idempotent producer; the embedded development broker
    # (tansu) does not answer InitProducerId, so `canbao dev` turns it off there.
    kafka_idempotent_producer: bool = True
    topic_partitions: int = Field(6, ge=1, le=1024)
    topic_replication_factor: int = Field(1, ge=1, le=5)

    host: str = "127.0.0.1"
    port: int | None = None
    log_level: str = "INFO"
    # one JSON line per request (logger canbao.access: service, method, route, status,
    # duration_ms, client, correlation_id)
    access_log: bool = True

    relay_enabled: bool = True
    relay_batch_size: int = Field(500, ge=1, le=10_000)
    relay_poll_interval_ms: int = Field(50, ge=1, le=60_000)
    # an idle relay backs off from the poll interval up to this one
    relay_idle_poll_interval_ms: int = Field(250, ge=1, le=60_000)
    relay_lease_seconds: int = Field(15, ge=2, le=3600)
    relay_max_backoff_seconds: float = Field(10.0, gt=0)
    # sent outbox rows are deleted this long after they were sent (0: kept forever); the
    # events themselves stay on the broker for its own retention
    outbox_retention_days: float = Field(14.0, ge=0)
    outbox_prune_interval_seconds: float = Field(60.0, gt=0)

    consumers_enabled: bool = True
    consumer_batch_size: int = Field(500, ge=1, le=10_000)
    consumer_max_failures: int = Field(3, ge=1, le=100)
    # partitions of one poll applied at once, each in its own transaction and connection, by
    # the consumers that declare themselves safe for it (ConsumerSpec.parallel)
    consumer_parallel_partitions: int = Field(3, ge=1, le=64)
    # A new group member waits about half the session timeout before its first assignment.
    consumer_session_timeout_ms: int = Field(10_000, ge=1_000, le=300_000)
    consumer_heartbeat_interval_ms: int = Field(3_000, ge=100, le=60_000)

    # Personal data (shared/pii.py): the current key encrypts and hashes every new value;
    # CANBAO_PII_KEY_VERSION names it (each stored value starts with `v<version>.<suite>:`),
    # CANBAO_PII_SUITE chooses its algorithms: `aes` (AES-256-GCM + HMAC-SHA256) or `sm4`
    # (SM4-GCM + HMAC-SM3). CANBAO_PII_PREVIOUS_KEYS, JSON {"1": {"suite": "aes", "key":
    # "..."}}, are the earlier keys still read until `canbao pii rotate` has moved every value.
    pii_key: str = DEV_PII_KEY
    pii_key_version: int = Field(1, ge=1, le=999_999)
    pii_suite: Literal["aes", "sm4"] = "aes"
    pii_previous_keys: dict[int, PiiKeySpec] = Field(default_factory=dict)

    # eligibility only: the folder of seed plans published into its plan registry at first
    # start (default services/eligibility/policies); other services get plans as events
    policies_dir: str | None = None
    # what a printed publicity notice (公示表) names, per region code (the narrowest code
    # containing the list's region applies): {"370481": {"issuer": "滕州市医疗保障局",
    # "phone": "0632-1234567", "seal": "滕州市医疗保障局"}}; unset lines print blank to fill in
    publicity_notices: dict[str, dict[str, str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        if self.pii_key_version in self.pii_previous_keys:
            raise ValueError(f"CANBAO_PII_PREVIOUS_KEYS holds version {self.pii_key_version}, "
                             "the version of the current key CANBAO_PII_KEY")
        if self.environment not in ("development", "test"):
            problems = [secret_problem("CANBAO_PII_KEY", self.pii_key)] + [
                secret_problem(f"CANBAO_PII_PREVIOUS_KEYS[{v}]", spec.key)
                for v, spec in self.pii_previous_keys.items()]
            if found := [p for p in problems if p]:
                raise ValueError("; ".join(found))
        if "sm4" in (self.pii_suite, *(k.suite for k in self.pii_previous_keys.values())):
            from shared.pii import sm4_available

            if why := sm4_available():
                raise ValueError(f"CANBAO_PII_SUITE=sm4: {why}")
        return self

    def pii_keyring(self) -> tuple[tuple[int, str, str], ...]:
        """(version, suite, secret) of every configured PII key, the current one first."""
        return ((self.pii_key_version, self.pii_suite, self.pii_key),
                *((v, k.suite, k.key) for v, k in sorted(self.pii_previous_keys.items())))

    @property
    def async_database_url(self) -> str:
        return to_async_url(self.database_url)

    def port_for(self, service: str) -> int:
        return self.port or DEFAULT_PORTS[service]


def to_async_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url.split('@')[-1]}")


def to_plain_url(url: str) -> str:
    """The `postgresql://` form asyncpg and psycopg connect with."""
    return "postgresql://" + to_async_url(url)[len("postgresql+asyncpg://"):]


@lru_cache
def get_settings() -> Settings:
    return Settings()
