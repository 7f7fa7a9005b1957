"""What is owed depends on the payment date: both outcomes with the due, timing on payments.

- dues: `on_time_until`, `payable_until`, `late` (jsonb), as eligibility.determination.v1
  carries them (NULL for determinations published before they existed).
- orders, ledger: `timing` (on_time | late) of the payment that paid them (NULL before).
- proxy_batches: `paid_on`, the day the budget line actually paid (the finance office's date),
  which decides the payment's timing; NULL for batches recorded before (their record date).

Revision ID: 0004_c_due_terms_timing
Revises: 0003
Create Date: 2026-12-04
"""

from alembic import op

revision = "0004_c_due_terms_timing"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "payments"


def upgrade() -> None:
    op.execute(f"""ALTER TABLE {S}.dues ADD COLUMN on_time_until date,
                   ADD COLUMN payable_until date, ADD COLUMN late jsonb""")
    op.execute(f"""ALTER TABLE {S}.orders ADD COLUMN timing text
                   CHECK (timing IN ('on_time', 'late'))""")
    op.execute(f"""ALTER TABLE {S}.ledger ADD COLUMN timing text
                   CHECK (timing IN ('on_time', 'late'))""")
    op.execute(f"ALTER TABLE {S}.proxy_batches ADD COLUMN paid_on date")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.proxy_batches DROP COLUMN paid_on")
    op.execute(f"ALTER TABLE {S}.ledger DROP COLUMN timing")
    op.execute(f"ALTER TABLE {S}.orders DROP COLUMN timing")
    op.execute(f"""ALTER TABLE {S}.dues DROP COLUMN on_time_until, DROP COLUMN payable_until,
                   DROP COLUMN late""")
