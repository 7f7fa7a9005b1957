"""Both outcomes of a determination: on time and late, and the days that separate them.

- determinations, current_determinations: `on_time_until` (the last day a payment gets the
  on-time amounts and coverage start), `payable_until` (the last day a payment still buys
  coverage in the plan year) and `late` (what a payment after on_time_until owes: personal part,
  surcharge, subsidy lines, insured category; NULL when nothing is owed either way).
  Rows written before this migration have them NULL.

Revision ID: 0004_c_determination_terms
Revises: 0003
Create Date: 2026-12-04
"""

from alembic import op

revision = "0004_c_determination_terms"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "eligibility"


def upgrade() -> None:
    for table in ("determinations", "current_determinations"):
        op.execute(f"""ALTER TABLE {S}.{table} ADD COLUMN on_time_until date,
                       ADD COLUMN payable_until date, ADD COLUMN late jsonb""")


def downgrade() -> None:
    for table in ("determinations", "current_determinations"):
        op.execute(f"""ALTER TABLE {S}.{table} DROP COLUMN on_time_until,
                       DROP COLUMN payable_until, DROP COLUMN late""")
