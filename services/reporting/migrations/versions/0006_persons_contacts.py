"""Persons carry their household number (户号) and their name and address sealed with the PII
key, for the reminder lists (registration.person.v1's optional name_enc, household_no,
address_enc).

Revision ID: 0006_persons_contacts
Revises: 0005_plans_copies
Create Date: 2026-12-04
"""

from alembic import op

revision = "0006_persons_contacts"
down_revision = "0005_plans_copies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE reporting.persons ADD COLUMN name_enc text, "
               "ADD COLUMN household_no text, ADD COLUMN address_enc text")


def downgrade() -> None:
    op.execute("ALTER TABLE reporting.persons DROP COLUMN name_enc, "
               "DROP COLUMN household_no, DROP COLUMN address_enc")
