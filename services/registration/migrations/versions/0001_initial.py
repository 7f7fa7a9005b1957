"""Registration: persons, households, enrollments, group memberships, targets, outbox, inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "registration"

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
    CREATE TABLE {S}.households (
        id uuid PRIMARY KEY,
        household_no text NOT NULL UNIQUE,
        head_person_id uuid,
        village_code text,
        created_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(f"""
    CREATE TABLE {S}.persons (
        id uuid PRIMARY KEY,
        id_number_hash text NOT NULL UNIQUE,
        id_number_enc text NOT NULL,
        id_number_masked text NOT NULL,
        name text NOT NULL,
        birth_date date NOT NULL,
        sex text NOT NULL CHECK (sex IN ('male', 'female')),
        phone text,
        household_id uuid REFERENCES {S}.households (id),
        relation_to_head text,
        hukou_region_code text,
        county_code text NOT NULL,
        township_code text,
        village_code text,
        residence_permit boolean NOT NULL DEFAULT false,
        school text,
        revision integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(f"CREATE INDEX persons_village_name ON {S}.persons (village_code, name)")
    op.execute(f"""
    CREATE TABLE {S}.person_history (
        person_id uuid NOT NULL,  -- no FK: written with the person, checked per row costs
        revision integer NOT NULL,  -- a third of a 1.5-million-row import
        changed_at timestamptz NOT NULL DEFAULT now(),
        snapshot jsonb NOT NULL,
        PRIMARY KEY (person_id, revision)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.enrollments (
        person_id uuid NOT NULL REFERENCES {S}.persons (id),
        plan_year integer NOT NULL,
        status text NOT NULL CHECK (status IN ('registered', 'stopped', 'ended')),
        reason text,
        insured_category text NOT NULL CHECK (insured_category IN ('adult', 'minor', 'student')),
        county_code text NOT NULL,
        township_code text,
        village_code text,
        registered_on date NOT NULL,
        revision integer NOT NULL DEFAULT 1,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (person_id, plan_year)
    )""")
    op.execute(f"CREATE INDEX enrollments_year_village ON {S}.enrollments (plan_year, village_code)")
    op.execute(f"""
    CREATE TABLE {S}.group_memberships (
        person_id uuid NOT NULL REFERENCES {S}.persons (id),
        group_code text NOT NULL,
        certified_on date,
        ends_on date,
        later_birth_on date,
        department text,
        source_list text,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (person_id, group_code)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.targets (
        plan_year integer NOT NULL,
        township_code text NOT NULL,
        target integer NOT NULL CHECK (target >= 0),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (plan_year, township_code)
    )""")


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {S} CASCADE")
