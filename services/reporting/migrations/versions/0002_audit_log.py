"""The append-only audit log (shared/audit.py).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from alembic import op

from shared.audit import audit_table_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in audit_table_sql("reporting"):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE reporting.audit_log CASCADE")
