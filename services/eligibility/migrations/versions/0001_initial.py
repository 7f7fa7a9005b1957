"""Eligibility: loaded plans, its view of persons, determinations with history, outbox, inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "eligibility"

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
    CREATE TABLE {S}.policies (
        version text PRIMARY KEY,
        region_code text NOT NULL,
        plan_year integer NOT NULL,
        source jsonb NOT NULL,
        content jsonb NOT NULL,
        loaded_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(f"""
    CREATE TABLE {S}.persons (
        person_id uuid PRIMARY KEY,
        birth_date date NOT NULL,
        county_code text NOT NULL,
        township_code text,
        village_code text,
        revision integer NOT NULL
    )""")
    op.execute(f"""
    CREATE TABLE {S}.person_groups (
        person_id uuid NOT NULL,
        group_code text NOT NULL,
        certified_on date,
        ends_on date,
        later_birth_on date,
        PRIMARY KEY (person_id, group_code)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.enrollments (
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        status text NOT NULL,
        insured_category text NOT NULL,
        registered_on date NOT NULL,
        revision integer NOT NULL,
        PRIMARY KEY (person_id, plan_year)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.determinations (
        id bigserial PRIMARY KEY,
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        policy_version text NOT NULL,
        insured_category text NOT NULL,
        standard_fen bigint NOT NULL,
        personal_fen bigint NOT NULL,
        surcharge_fen bigint NOT NULL,
        subsidies jsonb NOT NULL,
        coverage_start date NOT NULL,
        assumptions jsonb NOT NULL,
        trace jsonb NOT NULL,
        cause text NOT NULL,
        determined_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(
        f"CREATE INDEX determinations_person ON {S}.determinations (person_id, plan_year, id)"
    )
    op.execute(f"""
    CREATE TABLE {S}.current_determinations (
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        determination_id bigint NOT NULL,
        policy_version text NOT NULL,
        county_code text NOT NULL,
        township_code text,
        village_code text,
        standard_fen bigint NOT NULL,
        personal_fen bigint NOT NULL,
        subsidies jsonb NOT NULL,
        PRIMARY KEY (person_id, plan_year)
    )""")


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {S} CASCADE")
