"""One settings class for every service, read from CANBAO_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("registration", "eligibility", "payments", "reporting")
DEFAULT_PORTS = {"registration": 8001, "eligibility": 8002, "payments": 8003, "reporting": 8004}
DEV_PII_KEY = "dev-only-pii-key-change-me-in-production-000000"


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

    relay_enabled: bool = True
    relay_batch_size: int = Field(500, ge=1, le=10_000)
    relay_poll_interval_ms: int = Field(50, ge=1, le=60_000)
    relay_lease_seconds: int = Field(15, ge=2, le=3600)
    relay_max_backoff_seconds: float = Field(10.0, gt=0)
    outbox_shards: int = Field(16, ge=1, le=1024)

    consumers_enabled: bool = True
    consumer_batch_size: int = Field(500, ge=1, le=10_000)
    consumer_max_failures: int = Field(3, ge=1, le=100)
    # partitions of one poll applied at once, each in its own transaction and connection, by
    # the consumers that declare themselves safe for it (ConsumerSpec.parallel)
    consumer_parallel_partitions: int = Field(3, ge=1, le=64)
    # A new group member waits about half the session timeout before its first assignment.
    consumer_session_timeout_ms: int = Field(10_000, ge=1_000, le=300_000)
    consumer_heartbeat_interval_ms: int = Field(3_000, ge=100, le=60_000)

    # Keyed hash of identity numbers (lookup) and encryption key (storage).
    pii_key: str = DEV_PII_KEY

    policies_dir: str | None = None

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        if self.environment == "production" and self.pii_key == DEV_PII_KEY:
            raise ValueError("CANBAO_PII_KEY must be set to a real secret in production")
        return self

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


@lru_cache
def get_settings() -> Settings:
    return Settings()
