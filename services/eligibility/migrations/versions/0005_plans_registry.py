"""The plan registry at run time: drafts with their author and approver, and publications.

- plan_drafts: a plan uploaded by a policy officer (its text as uploaded and its content), the
  checks' warnings, who wrote it and when, who approved it and when (never the author), and
  the publication it became.
- plan_publications: every publication of a version for a region and year (a first
  publication, a correction, a re-publication of an earlier version: never an edit in place),
  with who published it, when, and the day it takes effect. The plan in force is the
  publication of the highest id whose effective_on has come. `redetermination_job` is claimed
  once by the process that starts the correction's re-determination.
  The shipped seed files are published here at first start (published_by 'seed').

Revision ID: 0005_plans_registry
Revises: 0004_c_determination_terms
Create Date: 2026-12-04
"""

from alembic import op

revision = "0005_plans_registry"
down_revision = "0004_c_determination_terms"
branch_labels = None
depends_on = None

S = "eligibility"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.plan_drafts (
        id uuid PRIMARY KEY,
        region_code text NOT NULL,
        plan_year integer NOT NULL,
        version text NOT NULL,
        content jsonb NOT NULL,
        text text,
        warnings jsonb NOT NULL DEFAULT '[]',
        based_on_version text,
        status text NOT NULL CHECK (status IN ('draft', 'approved', 'published', 'withdrawn')),
        author text NOT NULL,
        author_region text,
        created_at timestamptz NOT NULL DEFAULT now(),
        approved_by text,
        approved_at timestamptz,
        publication_id bigint,
        CHECK (approved_by IS NULL OR approved_by <> author)
    )""")
    op.execute(f"CREATE INDEX plan_drafts_region ON {S}.plan_drafts (region_code, plan_year)")
    op.execute(f"""
    CREATE TABLE {S}.plan_publications (
        id bigserial PRIMARY KEY,
        region_code text NOT NULL,
        plan_year integer NOT NULL,
        version text NOT NULL REFERENCES {S}.policies (version),
        effective_on date NOT NULL,
        correction boolean NOT NULL DEFAULT false,
        draft_id uuid REFERENCES {S}.plan_drafts (id),
        republished_from bigint REFERENCES {S}.plan_publications (id),
        published_by text NOT NULL,
        published_at timestamptz NOT NULL DEFAULT now(),
        redetermination_job bigint
    )""")
    op.execute(f"CREATE INDEX plan_publications_region ON {S}.plan_publications "
               "(region_code, plan_year, id)")


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.plan_publications")
    op.execute(f"DROP TABLE {S}.plan_drafts")
