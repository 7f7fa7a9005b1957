"""The append-only audit log (shared/audit.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

from shared.audit import audit_table_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in audit_table_sql("registration"):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE registration.audit_log CASCADE")
