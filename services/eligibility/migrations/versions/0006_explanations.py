"""A determination's explanation stored once for everyone who shares it.

- explanations: the trace (which rules matched and why) and the plan's assumptions a
  determination rests on, keyed by a hash of their content (`md5(assumptions::text || ' ' ||
  trace::text)` as a uuid; jsonb's text is canonical, so the same content gets the same id).
  A county's 1.5 million determinations share a dozen of them; stored in every row they made
  two thirds of the row's 1.5 KB and of a whole-county redetermination's writes.
- determinations: `explanation_id` instead of their own `assumptions` and `trace`. Rows
  written before this migration are moved over.

No foreign key: every writer inserts the explanation in the same transaction before the rows
that name it, and a key would cost a trigger per row of a 1.5-million-row redetermination.

Revision ID: 0006_explanations
Revises: 0005_plans_registry
Create Date: 2026-12-05
"""

from alembic import op

revision = "0006_explanations"
down_revision = "0005_plans_registry"
branch_labels = None
depends_on = None

S = "eligibility"
_ID = "md5(assumptions::text || ' ' || trace::text)::uuid"


def upgrade() -> None:
    op.execute(f"""CREATE TABLE {S}.explanations (
        id uuid PRIMARY KEY,
        assumptions jsonb NOT NULL,
        trace jsonb NOT NULL)""")
    op.execute(f"ALTER TABLE {S}.determinations ADD COLUMN explanation_id uuid")
    op.execute(f"""INSERT INTO {S}.explanations (id, assumptions, trace)
        SELECT DISTINCT ON ({_ID}) {_ID}, assumptions, trace FROM {S}.determinations""")
    op.execute(f"UPDATE {S}.determinations SET explanation_id = {_ID}")
    op.execute(f"""ALTER TABLE {S}.determinations ALTER COLUMN explanation_id SET NOT NULL,
                   DROP COLUMN assumptions, DROP COLUMN trace""")


def downgrade() -> None:
    op.execute(f"""ALTER TABLE {S}.determinations ADD COLUMN assumptions jsonb,
                   ADD COLUMN trace jsonb""")
    op.execute(f"""UPDATE {S}.determinations d SET assumptions = x.assumptions, trace = x.trace
                   FROM {S}.explanations x WHERE x.id = d.explanation_id""")
    op.execute(f"""ALTER TABLE {S}.determinations ALTER COLUMN assumptions SET NOT NULL,
                   ALTER COLUMN trace SET NOT NULL, DROP COLUMN explanation_id""")
    op.execute(f"DROP TABLE {S}.explanations")
