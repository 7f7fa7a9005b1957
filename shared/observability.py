"""JSON logs carrying a correlation id, and the Prometheus metrics every service exposes."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import uuid

from prometheus_client import Counter, Gauge, Histogram

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


_CORRELATION_ID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,64}")


def correlation_id_from(raw: bytes | None) -> str:
    """The caller's X-Correlation-ID when it is a usable one (1-64 printable ASCII characters
    of the usual id alphabets), else a fresh id: a header that is not UTF-8, holds spaces or
    control characters, or is too long is replaced, never an error."""
    if raw is not None and _CORRELATION_ID.fullmatch(raw):
        return raw.decode("ascii")
    return new_correlation_id()


ACCESS_FIELDS = ("method", "route", "path", "status", "duration_ms", "client", "user_agent")


class JsonFormatter(logging.Formatter):
    """One JSON object a line; `service` names the process's service (configure_logging) unless
    the record names one itself."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.service:
            entry["service"] = self.service
        cid = correlation_id.get()
        if cid:
            entry["correlation_id"] = cid
        for key in ("service", "event_id", "topic", "consumer", "channel", "code",
                    *ACCESS_FIELDS):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _QuietMigrationContext(logging.Filter):
    """Alembic announces its context ("Context impl PostgresqlImpl.", "Will assume
    transactional DDL.") every time one is made, /readyz's revision check included; the lines
    about migrations that run are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not (message.startswith("Context impl") or message.startswith("Will assume"))


def configure_logging(level: str = "INFO", service: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    quiet_migration_context()


def quiet_migration_context() -> None:
    migration = logging.getLogger("alembic.runtime.migration")
    if not any(isinstance(f, _QuietMigrationContext) for f in migration.filters):
        migration.addFilter(_QuietMigrationContext())


access_log = logging.getLogger("canbao.access")


REQUEST_LATENCY = Histogram(
    "canbao_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_BACKLOG = Gauge("canbao_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_PUBLISHED = Counter("canbao_outbox_published_total", "Events published", ["service"])
OUTBOX_PRUNED = Counter("canbao_outbox_pruned_total",
                        "Sent outbox rows deleted after the retention period", ["service"])
EVENTS_CONSUMED = Counter(
    "canbao_events_consumed_total", "Events applied by consumers", ["service", "consumer"]
)
EVENTS_DUPLICATE = Counter(
    "canbao_events_duplicate_total", "Events skipped as already applied", ["service", "consumer"]
)
DEAD_LETTERS = Counter(
    "canbao_dead_letters_total", "Messages sent to a dead-letter topic", ["service", "consumer"]
)
CONSUMER_LAG = Gauge(
    "canbao_consumer_lag", "Messages behind the end of the partition", ["service", "consumer"]
)
PAYMENTS_BY_CHANNEL = Counter(
    "canbao_payments_total", "Payment notifications accepted", ["channel", "kind"]
)

# Gaps of the first release (docs/OPERATIONS.md, "Metrics and alerts")
OUTBOX_OLDEST_AGE = Gauge(
    "canbao_outbox_oldest_unsent_seconds",
    "Age of the oldest outbox row not yet published (0 when none)", ["service"])
DB_POOL = Gauge(
    "canbao_db_pool_connections",
    "Database pool connections of this process: size, in_use, overflow", ["service", "state"])
WEBHOOK_SIGNATURE_FAILURES = Counter(
    "canbao_webhook_rejected_total",
    "Channel notifications refused before storing (bad signature, stale, wrong account...)",
    ["channel", "code"])
SUSPENSE_OPEN = Gauge(
    "canbao_suspense_open", "Suspense items not yet resolved (payments)", ["reason"])
