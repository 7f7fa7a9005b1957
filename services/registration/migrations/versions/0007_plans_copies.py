"""Registration's own copy of the published plans, from `eligibility.plan.v1` events
(shared/plan_copies.py): the plan years an enrollment may name; registration never reads
eligibility's files.

Revision ID: 0007_plans_copies
Revises: 0006_g_reference_ciphertext
Create Date: 2026-12-04
"""

from alembic import op

from shared.plan_copies import plans_table_sql

revision = "0007_plans_copies"
down_revision = "0006_g_reference_ciphertext"
branch_labels = None
depends_on = None

S = "registration"


def upgrade() -> None:
    for stmt in plans_table_sql(S):
        op.execute(stmt)


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.plans")
