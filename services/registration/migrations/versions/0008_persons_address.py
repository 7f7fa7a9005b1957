"""Persons keep their address (地址, 户籍地址/住址) as registered or imported, for the staff who
phone or visit the people on a reminder list (published sealed with the PII key).

Revision ID: 0008_persons_address
Revises: 0007_plans_copies
Create Date: 2026-12-05
"""

from alembic import op

revision = "0008_persons_address"
down_revision = "0007_plans_copies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE registration.persons ADD COLUMN address text")


def downgrade() -> None:
    op.execute("ALTER TABLE registration.persons DROP COLUMN address")
