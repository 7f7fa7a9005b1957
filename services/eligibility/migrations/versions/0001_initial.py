"""Eligibility: loaded plans, its view of persons, determinations with history, outbox, inbox.

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

S = "eligibility"


def upgrade() -> None:
    for stmt in create_tables_sql(S):
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
