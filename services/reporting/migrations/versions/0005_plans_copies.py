"""Reporting' own copy of the published plans, from `eligibility.plan.v1` events
(shared/plan_copies.py): one row per publication; reporting never reads eligibility's files.

Revision ID: 0005_plans_copies
Revises: 0004_d_paid_parts
Create Date: 2026-12-04
"""

from alembic import op

revision = "0005_plans_copies"
down_revision = "0004_d_paid_parts"
branch_labels = None
depends_on = None

S = "reporting"


_PLANS = """
    CREATE TABLE {s}.plans (
        publication bigint NOT NULL,
        region_code text NOT NULL,
        plan_year integer NOT NULL,
        version text NOT NULL,
        effective_on date NOT NULL,
        correction boolean NOT NULL DEFAULT false,
        content jsonb NOT NULL,
        published_by text NOT NULL,
        published_at timestamptz NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (publication, version)
    )"""


def upgrade() -> None:
    # the table shared/plan_copies.py keeps the publications in
    op.execute(_PLANS.format(s=S))
    op.execute(f"CREATE INDEX plans_region_year ON {S}.plans (region_code, plan_year, publication)")


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.plans")
