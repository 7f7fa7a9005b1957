"""Determinations that follow the people: fact revisions, enrollment location, enrolled flag,
payments seen, plans missing (pending), and resumable redetermination jobs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "eligibility"


def upgrade() -> None:
    # a removed membership stays as a tombstone so an older "added" arriving late is ignored
    op.execute(f"""ALTER TABLE {S}.person_groups
        ADD COLUMN revision integer NOT NULL DEFAULT 0,
        ADD COLUMN removed boolean NOT NULL DEFAULT false""")
    op.execute(f"""ALTER TABLE {S}.enrollments
        ADD COLUMN reason text,
        ADD COLUMN county_code text NOT NULL DEFAULT '',
        ADD COLUMN township_code text,
        ADD COLUMN village_code text""")
    op.execute(f"CREATE INDEX enrollments_year_county ON {S}.enrollments (plan_year, county_code)")
    op.execute(f"""ALTER TABLE {S}.determinations
        ADD COLUMN enrolled boolean NOT NULL DEFAULT true,
        ADD COLUMN region_code text NOT NULL DEFAULT '',
        ADD COLUMN county_code text NOT NULL DEFAULT '',
        ADD COLUMN township_code text,
        ADD COLUMN village_code text""")
    op.execute(f"""ALTER TABLE {S}.current_determinations
        ADD COLUMN enrolled boolean NOT NULL DEFAULT true,
        ADD COLUMN region_code text NOT NULL DEFAULT '',
        ADD COLUMN insured_category text NOT NULL DEFAULT 'adult',
        ADD COLUMN surcharge_fen bigint NOT NULL DEFAULT 0,
        ADD COLUMN coverage_start date,
        ADD COLUMN determined_at timestamptz NOT NULL DEFAULT now()""")
    op.execute(f"""CREATE INDEX current_determinations_region
        ON {S}.current_determinations (plan_year, region_code)""")
    # payments.payment.v1 ledger entries, enough to know what a person has paid
    op.execute(f"""
    CREATE TABLE {S}.payment_entries (
        order_no text NOT NULL,
        revision bigint NOT NULL,
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        kind text NOT NULL,
        payer text NOT NULL,
        amount_fen bigint NOT NULL,
        paid_at timestamptz,
        PRIMARY KEY (order_no, revision)
    )""")
    op.execute(f"CREATE INDEX payment_entries_person ON {S}.payment_entries (person_id, plan_year)")
    # enrolled in a region and year with no plan loaded: nothing due yet, re-determined on load
    op.execute(f"""
    CREATE TABLE {S}.pending_plans (
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        county_code text NOT NULL,
        since timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (person_id, plan_year)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.redetermination_jobs (
        id bigserial PRIMARY KEY,
        region_code text NOT NULL,
        plan_year integer NOT NULL,
        policy_version text NOT NULL,
        status text NOT NULL,
        total integer NOT NULL DEFAULT 0,
        processed integer NOT NULL DEFAULT 0,
        changed integer NOT NULL DEFAULT 0,
        adjustments integer NOT NULL DEFAULT 0,
        last_person_id uuid,
        read_seconds double precision NOT NULL DEFAULT 0,
        compute_seconds double precision NOT NULL DEFAULT 0,
        write_seconds double precision NOT NULL DEFAULT 0,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
    )""")


def downgrade() -> None:
    for table in ("redetermination_jobs", "pending_plans", "payment_entries"):
        op.execute(f"DROP TABLE {S}.{table}")
    op.execute(f"DROP INDEX {S}.current_determinations_region")
    op.execute(f"""ALTER TABLE {S}.current_determinations DROP COLUMN enrolled,
        DROP COLUMN region_code, DROP COLUMN insured_category, DROP COLUMN surcharge_fen,
        DROP COLUMN coverage_start, DROP COLUMN determined_at""")
    op.execute(f"""ALTER TABLE {S}.determinations DROP COLUMN enrolled, DROP COLUMN region_code,
        DROP COLUMN county_code, DROP COLUMN township_code, DROP COLUMN village_code""")
    op.execute(f"DROP INDEX {S}.enrollments_year_county")
    op.execute(f"""ALTER TABLE {S}.enrollments DROP COLUMN reason, DROP COLUMN county_code,
        DROP COLUMN township_code, DROP COLUMN village_code""")
    op.execute(f"ALTER TABLE {S}.person_groups DROP COLUMN revision, DROP COLUMN removed")
