"""A determination's explanation stored once for everyone who shares it.

- explanations: the trace (which rules matched and why) and the plan's assumptions a
  determination rests on, keyed by a hash of their content (`md5(assumptions::text || ' ' ||
  trace::text)` as a uuid; jsonb's text is canonical, so the same content gets the same id).
  A county's 1.5 million determinations share a dozen of them; stored in every row they made
  two thirds of the row's 1.5 KB and of a whole-county redetermination's writes.
- determinations: `explanation_id` (NULL in rows written before), and `assumptions` and `trace`
  may be NULL: this release writes the explanation id instead of them.

Only additions, so that the previous release keeps working while replicas are replaced
(docs/OPERATIONS.md): it still writes `assumptions` and `trace` in its own rows, and readers take
the row's own columns where it has no explanation id. A later release, once no release writes
those columns, moves the rows that still have them and drops them.

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


def upgrade() -> None:
    op.execute(f"""CREATE TABLE {S}.explanations (
        id uuid PRIMARY KEY,
        assumptions jsonb NOT NULL,
        trace jsonb NOT NULL)""")
    op.execute(f"""ALTER TABLE {S}.determinations ADD COLUMN explanation_id uuid,
                   ALTER COLUMN assumptions DROP NOT NULL, ALTER COLUMN trace DROP NOT NULL""")


def downgrade() -> None:
    op.execute(f"""UPDATE {S}.determinations d SET assumptions = x.assumptions, trace = x.trace
                   FROM {S}.explanations x
                   WHERE x.id = d.explanation_id AND d.assumptions IS NULL""")
    op.execute(f"""ALTER TABLE {S}.determinations ALTER COLUMN assumptions SET NOT NULL,
                   ALTER COLUMN trace SET NOT NULL, DROP COLUMN explanation_id""")
    op.execute(f"DROP TABLE {S}.explanations")
