"""Reporting' own copy of the published plans, from `eligibility.plan.v1` events
(shared/plan_copies.py): one row per publication; reporting never reads eligibility's files.

Revision ID: 0005_plans_copies
Revises: 0004_d_paid_parts
Create Date: 2026-12-04
"""

from alembic import op

from shared.plan_copies import plans_table_sql

revision = "0005_plans_copies"
down_revision = "0004_d_paid_parts"
branch_labels = None
depends_on = None

S = "reporting"


def upgrade() -> None:
    for stmt in plans_table_sql(S):
        op.execute(stmt)


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.plans")
