"""Reporting: projections built only from events, and counters kept per village.

Source projections (persons, enrollments, determinations, payments, targets, reconciliations)
hold the newest revision of each aggregate. `person_years` is the derived state of one person
in one plan year; every change to it is applied as a delta to the pre-aggregated counters
(`progress`, `progress_daily`, `funding`), so queries never count raw rows.
`reminder_reasons` is written by staff, not by events: a rebuild keeps it.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "reporting"

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
        revision integer NOT NULL,
        birth_date date,
        name_masked text NOT NULL DEFAULT '',
        id_number_masked text NOT NULL DEFAULT '',
        county_code text NOT NULL DEFAULT '',
        township_code text NOT NULL DEFAULT '',
        village_code text NOT NULL DEFAULT ''
    )""")
    op.execute(f"""
    CREATE TABLE {S}.enrollments (
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        revision integer NOT NULL,
        status text NOT NULL,
        reason text,
        insured_category text NOT NULL,
        county_code text NOT NULL,
        township_code text NOT NULL,
        village_code text NOT NULL,
        registered_on date,
        PRIMARY KEY (person_id, plan_year)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.determinations (
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        revision bigint NOT NULL,
        enrolled boolean NOT NULL,
        insured_category text NOT NULL,
        county_code text NOT NULL,
        township_code text NOT NULL,
        village_code text NOT NULL,
        standard_fen bigint NOT NULL,
        personal_fen bigint NOT NULL,
        subsidies jsonb NOT NULL,
        PRIMARY KEY (person_id, plan_year)
    )""")
    # Payments may arrive before the enrollment they belong to (different topics).
    op.execute(f"""
    CREATE TABLE {S}.payments (
        order_no text PRIMARY KEY,
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        revision bigint NOT NULL,
        kind text NOT NULL,
        payer text NOT NULL,
        channel text NOT NULL,
        amount_fen bigint NOT NULL,
        paid_at timestamptz NOT NULL,
        county_code text NOT NULL,
        township_code text NOT NULL,
        village_code text NOT NULL
    )""")
    op.execute(f"CREATE INDEX payments_person ON {S}.payments (person_id, plan_year)")
    op.execute(f"""
    CREATE TABLE {S}.person_years (
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        county_code text NOT NULL,
        township_code text NOT NULL,
        village_code text NOT NULL,
        band text NOT NULL,
        enrollment_status text,
        registered boolean NOT NULL,
        enrolled boolean NOT NULL,
        subsidized boolean NOT NULL,
        paid_by text,
        paid_fen bigint NOT NULL DEFAULT 0,
        paid_on date,
        subsidies jsonb NOT NULL DEFAULT '[]',
        PRIMARY KEY (person_id, plan_year)
    )""")
    op.execute(f"CREATE INDEX person_years_village ON {S}.person_years "
               "(village_code, plan_year)")
    op.execute(f"CREATE INDEX person_years_subsidized ON {S}.person_years "
               "(county_code, plan_year) WHERE subsidized")
    op.execute(f"""
    CREATE TABLE {S}.targets (
        plan_year integer NOT NULL,
        township_code text NOT NULL,
        county_code text NOT NULL,
        target integer NOT NULL,
        set_at timestamptz NOT NULL,
        PRIMARY KEY (plan_year, township_code)
    )""")
    op.execute(f"CREATE INDEX targets_county ON {S}.targets (county_code, plan_year)")
    op.execute(f"""
    CREATE TABLE {S}.progress (
        plan_year integer NOT NULL,
        county_code text NOT NULL,
        township_code text NOT NULL,
        village_code text NOT NULL,
        band text NOT NULL,
        registered integer NOT NULL DEFAULT 0,
        paid_person integer NOT NULL DEFAULT 0,
        paid_government integer NOT NULL DEFAULT 0,
        paid_person_fen bigint NOT NULL DEFAULT 0,
        paid_government_fen bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (plan_year, county_code, township_code, village_code, band)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.progress_daily (
        plan_year integer NOT NULL,
        county_code text NOT NULL,
        township_code text NOT NULL,
        day date NOT NULL,
        paid integer NOT NULL DEFAULT 0,
        PRIMARY KEY (plan_year, county_code, township_code, day)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.funding (
        plan_year integer NOT NULL,
        county_code text NOT NULL,
        township_code text NOT NULL,
        budget_line text NOT NULL,
        rule_id text NOT NULL,
        headcount integer NOT NULL DEFAULT 0,
        amount_fen bigint NOT NULL DEFAULT 0,
        paid_headcount integer NOT NULL DEFAULT 0,
        PRIMARY KEY (plan_year, county_code, township_code, budget_line, rule_id)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.reconciliations (
        reconciliation_key text PRIMARY KEY,
        channel text NOT NULL,
        statement_date date,
        completed_at timestamptz NOT NULL,
        payload jsonb NOT NULL
    )""")
    op.execute(f"""
    CREATE TABLE {S}.reminder_reasons (
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        reason text NOT NULL CHECK (reason IN ('worker_away', 'employee_scheme', 'died',
            'enlisted', 'insured_elsewhere', 'refuses', 'other')),
        note text,
        recorded_by text,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (person_id, plan_year)
    )""")


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {S} CASCADE")
