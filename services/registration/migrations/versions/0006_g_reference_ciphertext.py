"""Reference data keeps the sealed ID number next to its keyed hash, so that `canbao pii
rotate` can re-hash a row under a new PII key (the hash alone cannot be re-keyed). Rows
uploaded before have none: rotation re-hashes those whose person is registered, and counts the
others (upload the reference data again to rotate them).

Revision ID: 0006_g_reference_ciphertext
Revises: 0005_b_lists_per_region
Create Date: 2026-12-04
"""

from alembic import op

revision = "0006_g_reference_ciphertext"
down_revision = "0005_b_lists_per_region"
branch_labels = None
depends_on = None

S = "registration"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.reference_persons ADD COLUMN id_number_enc text")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.reference_persons DROP COLUMN id_number_enc")
