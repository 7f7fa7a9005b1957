"""Reporting: projections built only from events, and counters kept per village.

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

S = "reporting"


def upgrade() -> None:
    for stmt in create_tables_sql(S):
        op.execute(stmt)
    op.execute(f"""
    CREATE TABLE {S}.targets (
        plan_year integer NOT NULL,
        township_code text NOT NULL,
        county_code text NOT NULL,
        target integer NOT NULL,
        PRIMARY KEY (plan_year, township_code)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.enrollments (
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        county_code text NOT NULL,
        township_code text NOT NULL,
        village_code text NOT NULL,
        status text NOT NULL,
        insured_category text NOT NULL,
        revision integer NOT NULL,
        paid_by text,
        paid_fen bigint,
        paid_at timestamptz,
        PRIMARY KEY (person_id, plan_year)
    )""")
    # Payments may arrive before the enrollment they belong to (different topics).
    op.execute(f"""
    CREATE TABLE {S}.payments (
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        paid_by text NOT NULL,
        paid_fen bigint NOT NULL,
        paid_at timestamptz NOT NULL,
        status text NOT NULL,
        PRIMARY KEY (person_id, plan_year)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.progress (
        plan_year integer NOT NULL,
        county_code text NOT NULL,
        township_code text NOT NULL,
        village_code text NOT NULL,
        registered integer NOT NULL DEFAULT 0,
        paid_person integer NOT NULL DEFAULT 0,
        paid_government integer NOT NULL DEFAULT 0,
        PRIMARY KEY (plan_year, township_code, village_code)
    )""")
    op.execute(f"CREATE INDEX progress_county ON {S}.progress (plan_year, county_code)")
    op.execute(f"""
    CREATE TABLE {S}.progress_daily (
        plan_year integer NOT NULL,
        township_code text NOT NULL,
        day date NOT NULL,
        paid integer NOT NULL DEFAULT 0,
        PRIMARY KEY (plan_year, township_code, day)
    )""")


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {S} CASCADE")
