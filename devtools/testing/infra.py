"""Real infrastructure for tests: the configured PostgreSQL and Kafka when given
(CANBAO_TEST_DATABASE_URL / CANBAO_DATABASE_URL, CANBAO_KAFKA_BOOTSTRAP_SERVERS), otherwise
an embedded PostgreSQL server and a tansu broker started for the test session."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from devtools.infra import EmbeddedPostgres, TansuBroker, create_database, free_port
from shared.migrations import upgrade_all
from shared.settings import Settings


@dataclass
class TestInfra:
    __test__ = False

    database_url: str
    bootstrap_servers: str
    broker_kind: str
    pg: EmbeddedPostgres | None = None
    broker: TansuBroker | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "environment": "test",
            "database_url": self.database_url,
            "kafka_bootstrap_servers": self.bootstrap_servers,
            "kafka_idempotent_producer": self.broker_kind == "kafka",
            "topic_partitions": 3,
            "relay_poll_interval_ms": 20,
            "relay_idle_poll_interval_ms": 80,
            "relay_lease_seconds": 5,
            "database_pool_size": 5,
            "consumer_session_timeout_ms": 3000,
            "consumer_heartbeat_interval_ms": 500,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    def env(self) -> dict[str, str]:
        return {
            "CANBAO_ENVIRONMENT": "test",
            "CANBAO_DATABASE_URL": self.database_url,
            "CANBAO_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "CANBAO_KAFKA_IDEMPOTENT_PRODUCER": str(self.broker_kind == "kafka").lower(),
            "CANBAO_TOPIC_PARTITIONS": "3",
            "CANBAO_RELAY_POLL_INTERVAL_MS": "20",
            "CANBAO_CONSUMER_SESSION_TIMEOUT_MS": "3000",
            "CANBAO_CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
            **self.extra,
        }

    def stop(self) -> None:
        if self.broker:
            self.broker.stop()
        if self.pg:
            self.pg.stop()


async def start_test_infra(state_dir: Path, pg_settings: dict[str, str] | None = None) -> TestInfra:
    """`pg_settings` apply to the embedded server only (a configured server keeps its own)."""
    server_url = os.environ.get("CANBAO_TEST_DATABASE_URL") or os.environ.get("CANBAO_DATABASE_URL")
    pg = None
    if not server_url:
        # One server per test run: concurrent runs on one machine never stop each other's.
        pg = EmbeddedPostgres(state_dir / f"test-pg-{os.getpid()}", remove_on_stop=True,
                            settings=dict(pg_settings or {}))
        server_url = await asyncio.to_thread(pg.start)
    db_name = f"canbao_test_{uuid.uuid4().hex[:8]}"
    database_url = await create_database(server_url, db_name, drop_first=True)
    await asyncio.to_thread(upgrade_all, database_url)

    bootstrap = os.environ.get("CANBAO_KAFKA_BOOTSTRAP_SERVERS")
    broker = None
    kind = os.environ.get("CANBAO_TEST_BROKER_KIND", "kafka")
    if not bootstrap:
        broker = TansuBroker(port=free_port(), log_path=state_dir / "test-tansu.log")
        bootstrap = await asyncio.to_thread(broker.start)
        kind = "tansu"
    return TestInfra(database_url=database_url, bootstrap_servers=bootstrap, broker_kind=kind,
                     pg=pg, broker=broker)
