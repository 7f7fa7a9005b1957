"""Payments: persons it can bill, amounts due, orders, raw notifications, ledger, suspense.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from alembic import op

from shared.outbox import create_tables_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "payments"


def upgrade() -> None:
    for stmt in create_tables_sql(S):
        op.execute(stmt)
    op.execute(f"""
    CREATE TABLE {S}.persons (
        person_id uuid PRIMARY KEY,
        id_number_hash text NOT NULL UNIQUE,
        id_number_masked text NOT NULL,
        name_masked text NOT NULL,
        county_code text NOT NULL,
        township_code text,
        village_code text,
        revision integer NOT NULL
    )""")
    op.execute(f"""
    CREATE TABLE {S}.dues (
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        policy_version text NOT NULL,
        standard_fen bigint NOT NULL,
        personal_fen bigint NOT NULL,
        subsidies jsonb NOT NULL,
        enrolled boolean NOT NULL DEFAULT true,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (person_id, plan_year)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.orders (
        order_no text PRIMARY KEY,
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        amount_fen bigint NOT NULL CHECK (amount_fen > 0),
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
    op.execute(f"""
    CREATE TABLE {S}.notifications (
        id uuid PRIMARY KEY,
        channel text NOT NULL,
        event_id text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        headers jsonb NOT NULL,
        body bytea NOT NULL,
        normalized jsonb NOT NULL,
        status text NOT NULL DEFAULT 'received',
        UNIQUE (channel, event_id)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.ledger (
        id bigserial PRIMARY KEY,
        channel text NOT NULL,
        channel_txn_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('payment', 'refund', 'close', 'proxy')),
        order_no text,
        person_id uuid,
        plan_year integer,
        amount_fen bigint NOT NULL,
        occurred_at timestamptz NOT NULL,
        origin text NOT NULL DEFAULT 'webhook',
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (channel, channel_txn_id, kind)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.suspense (
        id bigserial PRIMARY KEY,
        channel text NOT NULL,
        channel_txn_id text NOT NULL,
        kind text NOT NULL,
        order_no text,
        amount_fen bigint NOT NULL,
        reason text NOT NULL,
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
        resolution jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        resolved_at timestamptz,
        UNIQUE (channel, channel_txn_id, kind)
    )""")


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {S} CASCADE")
