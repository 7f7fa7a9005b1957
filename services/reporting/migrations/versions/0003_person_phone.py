"""Persons carry their phone sealed with the PII key, for the reminder lists.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE reporting.persons ADD COLUMN phone_enc text")


def downgrade() -> None:
    op.execute("ALTER TABLE reporting.persons DROP COLUMN phone_enc")
