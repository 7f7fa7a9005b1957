"""Payments: persons it can bill, amounts due, orders, raw notifications, ledger, suspense,
proxy batches, refunds due, statements and reconciliations.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "payments"

# The outbox, its leases and the inbox as they were at this revision (frozen: a
# migration never imports live DDL from the running code).
_OUTBOX_AND_INBOX = [
    f"""CREATE TABLE {S}.outbox (
    seq bigserial PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    topic text NOT NULL,
    partition_key text,
    shard smallint NOT NULL,
    event_type text NOT NULL,
    source text NOT NULL,
    subject text,
    correlation_id text,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    sent_at timestamptz
)""",
    f"""CREATE INDEX outbox_unsent ON {S}.outbox (seq) WHERE sent_at IS NULL""",
    f"""CREATE TABLE {S}.outbox_lease (
    shard smallint PRIMARY KEY,
    owner text,
    lease_until timestamptz NOT NULL DEFAULT '-infinity'
)""",
    f"""INSERT INTO {S}.outbox_lease (shard) SELECT generate_series(0, 15)""",
    f"""CREATE TABLE {S}.outbox_relay (
    owner text PRIMARY KEY,
    seen_until timestamptz NOT NULL
)""",
    f"""CREATE TABLE {S}.inbox (
    consumer text NOT NULL,
    source text NOT NULL,
    event_id text NOT NULL,
    event_type text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, source, event_id)
)""",
]


def upgrade() -> None:
    for stmt in _OUTBOX_AND_INBOX:
        op.execute(stmt)
    op.execute(f"""
    CREATE TABLE {S}.persons (
        person_id uuid PRIMARY KEY,
        id_number_hash text NOT NULL UNIQUE,
        id_number_masked text NOT NULL,
        name_masked text NOT NULL,
        birth_date date,
        county_code text NOT NULL,
        township_code text,
        village_code text,
        revision integer NOT NULL
    )""")
    # The current determination per person and year, as eligibility published it.
    op.execute(f"""
    CREATE TABLE {S}.dues (
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        revision bigint NOT NULL,
        enrolled boolean NOT NULL DEFAULT true,
        region_code text NOT NULL,
        county_code text,
        township_code text,
        village_code text,
        policy_version text NOT NULL,
        insured_category text,
        standard_fen bigint NOT NULL,
        personal_fen bigint NOT NULL,
        surcharge_fen bigint NOT NULL DEFAULT 0,
        subsidies jsonb NOT NULL,
        coverage_start date,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (person_id, plan_year)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.orders (
        order_no text PRIMARY KEY,
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        amount_fen bigint NOT NULL CHECK (amount_fen > 0),
        due_revision bigint NOT NULL,
        status text NOT NULL CHECK (status IN ('open', 'paid', 'refunded', 'closed')),
        channel text,
        channel_txn_id text,
        coverage_start date,
        created_at timestamptz NOT NULL DEFAULT now(),
        paid_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
    )""")
    # One open or paid order per person and year: two channels cannot both charge a person.
    op.execute(f"""CREATE UNIQUE INDEX orders_one_live ON {S}.orders (person_id, plan_year)
                   WHERE status IN ('open', 'paid')""")
    op.execute(f"CREATE INDEX orders_person ON {S}.orders (person_id, plan_year)")
    op.execute(f"""
    CREATE TABLE {S}.notifications (
        id uuid PRIMARY KEY,
        channel text NOT NULL,
        event_id text NOT NULL,
        origin text NOT NULL DEFAULT 'webhook' CHECK (origin IN ('webhook', 'statement')),
        received_at timestamptz NOT NULL DEFAULT now(),
        headers jsonb NOT NULL,
        body bytea NOT NULL,
        normalized jsonb NOT NULL,
        status text NOT NULL DEFAULT 'received',
        UNIQUE (channel, event_id)
    )""")
    # Every money movement we know of, matched or not: the reconciliation compares against it.
    op.execute(f"""
    CREATE TABLE {S}.ledger (
        id bigserial PRIMARY KEY,
        channel text NOT NULL,
        channel_txn_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('payment', 'refund', 'proxy')),
        order_no text,
        person_id uuid,
        plan_year integer,
        payer text NOT NULL DEFAULT 'person' CHECK (payer IN ('person', 'government')),
        amount_fen bigint NOT NULL,
        occurred_at timestamptz NOT NULL,
        coverage_start date,
        outcome text NOT NULL DEFAULT 'applied' CHECK (outcome IN ('applied', 'suspense')),
        origin text NOT NULL DEFAULT 'webhook',
        notification_id uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (channel, channel_txn_id, kind)
    )""")
    op.execute(f"CREATE INDEX ledger_channel_time ON {S}.ledger (channel, occurred_at)")
    op.execute(f"""
    CREATE TABLE {S}.suspense (
        id bigserial PRIMARY KEY,
        ledger_id bigint REFERENCES {S}.ledger (id),
        channel text NOT NULL,
        channel_txn_id text NOT NULL,
        kind text NOT NULL,
        order_no text,
        person_id uuid,
        plan_year integer,
        amount_fen bigint NOT NULL,
        reason text NOT NULL,
        detail text,
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
        resolution jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        resolved_at timestamptz,
        UNIQUE (channel, channel_txn_id, kind)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.proxy_batches (
        id bigserial PRIMARY KEY,
        batch_no text NOT NULL UNIQUE,
        budget_line text NOT NULL,
        plan_year integer NOT NULL,
        declared_count integer NOT NULL,
        declared_total_fen bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(f"""
    CREATE TABLE {S}.refunds (
        id bigserial PRIMARY KEY,
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        due_revision bigint NOT NULL,
        order_no text,
        paid_fen bigint NOT NULL,
        amount_fen bigint NOT NULL CHECK (amount_fen > 0),
        reason text NOT NULL,
        status text NOT NULL DEFAULT 'due' CHECK (status IN ('due', 'completed')),
        reference text,
        created_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        UNIQUE (person_id, plan_year, due_revision)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.reconciliations (
        id bigserial PRIMARY KEY,
        channel text NOT NULL,
        statement_date date NOT NULL,
        summary jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (channel, statement_date)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.statement_lines (
        reconciliation_id bigint NOT NULL REFERENCES {S}.reconciliations (id),
        channel text NOT NULL,
        channel_txn_id text NOT NULL,
        kind text NOT NULL,
        order_no text,
        amount_fen bigint NOT NULL,
        status text NOT NULL,
        occurred_at timestamptz NOT NULL,
        PRIMARY KEY (reconciliation_id, channel_txn_id, kind)
    )""")
    op.execute(f"CREATE INDEX statement_lines_time ON {S}.statement_lines (channel, occurred_at)")
    op.execute(f"""
    CREATE TABLE {S}.reconciliation_items (
        id bigserial PRIMARY KEY,
        reconciliation_id bigint NOT NULL REFERENCES {S}.reconciliations (id),
        channel text NOT NULL,
        channel_txn_id text NOT NULL,
        kind text NOT NULL,
        order_no text,
        result text NOT NULL CHECK (result IN ('matched', 'channel_only', 'ledger_only',
            'amount_mismatch', 'status_mismatch', 'carried', 'ignored')),
        statement_amount_fen bigint,
        ledger_amount_fen bigint,
        ledger_id bigint,
        detail text,
        carry_status text CHECK (carry_status IN ('pending', 'settled', 'alerted'))
    )""")
    op.execute(f"""CREATE INDEX reconciliation_items_carried ON {S}.reconciliation_items (channel)
                   WHERE carry_status = 'pending'""")


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {S} CASCADE")
