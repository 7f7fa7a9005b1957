"""Paid means the whole due is covered, each part counted for whoever paid it.

- determinations keep both outcomes of a determination (on time, late) and the days between
  them (docs/EVENTS.md: `on_time_until`, `payable_until`, `late`);
- payments keep the budget line of a government proxy payment (`funding_source`) and the
  outcome a payment settled (`timing`);
- person_years keep what each payer paid, whether the whole due is covered (`settled`), what is
  still owed (own part, government parts, and if paid late) and per subsidy line how much of it
  the government has paid (`paid_fen` in `subsidies`);
- progress counts settled people (`settled`, 缴费人数) apart from the people each payer paid
  for (`paid_person`, `paid_government`: one person may be in both);
- one index serves every region scope (county, township, village) of the name lists;
- region_names holds the names of villages uploaded to registration
  (`registration.region.v1`), shown wherever a person reads a village.

Existing rows are filled so that they describe what the counters already hold (the old
meaning: paid = any payment, all of it for the last payer); run
`python -m services.reporting.commands rebuild` to count them anew under the new meaning.

Revision ID: 0004_d_paid_parts
Revises: 0003
Create Date: 2026-12-04
"""

from alembic import op

revision = "0004_d_paid_parts"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "reporting"


def upgrade() -> None:
    op.execute(f"""
    ALTER TABLE {S}.determinations
        ADD COLUMN surcharge_fen bigint NOT NULL DEFAULT 0,
        ADD COLUMN on_time_until date,
        ADD COLUMN payable_until date,
        ADD COLUMN late jsonb""")
    op.execute(f"""
    ALTER TABLE {S}.payments
        ADD COLUMN funding_source text,
        ADD COLUMN timing text""")
    op.execute(f"""
    ALTER TABLE {S}.person_years
        ADD COLUMN settled boolean NOT NULL DEFAULT false,
        ADD COLUMN settled_on date,
        ADD COLUMN paid_person_fen bigint NOT NULL DEFAULT 0,
        ADD COLUMN paid_person_on date,
        ADD COLUMN paid_government_fen bigint NOT NULL DEFAULT 0,
        ADD COLUMN paid_government_on date,
        ADD COLUMN owed_person_fen bigint,
        ADD COLUMN owed_government_fen bigint NOT NULL DEFAULT 0,
        ADD COLUMN owed_late_fen bigint,
        ADD COLUMN on_time_until date""")
    op.execute(f"""
    UPDATE {S}.person_years SET
        settled = paid_by IS NOT NULL,
        settled_on = paid_on,
        paid_person_fen = CASE WHEN paid_by IS NOT NULL AND paid_by <> 'government'
                               THEN paid_fen ELSE 0 END,
        paid_person_on = CASE WHEN paid_by IS NOT NULL AND paid_by <> 'government'
                              THEN paid_on END,
        paid_government_fen = CASE WHEN paid_by = 'government' THEN paid_fen ELSE 0 END,
        paid_government_on = CASE WHEN paid_by = 'government' THEN paid_on END,
        subsidies = coalesce((
            SELECT jsonb_agg(s || jsonb_build_object('paid_fen',
                CASE WHEN paid_by IS NOT NULL THEN (s->>'amount_fen')::bigint ELSE 0 END))
            FROM jsonb_array_elements(subsidies) AS s), '[]'::jsonb)""")
    op.execute(f"""
    ALTER TABLE {S}.progress ADD COLUMN settled integer NOT NULL DEFAULT 0""")
    op.execute(f"UPDATE {S}.progress SET settled = paid_person + paid_government")
    op.execute(f"CREATE INDEX person_years_region ON {S}.person_years "
               "(county_code, township_code, village_code, plan_year)")
    op.execute(f"""
    CREATE TABLE {S}.region_names (
        code text PRIMARY KEY,
        parent_code text NOT NULL DEFAULT '',
        name text NOT NULL
    )""")


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.region_names")
    op.execute(f"DROP INDEX {S}.person_years_region")
    op.execute(f"ALTER TABLE {S}.progress DROP COLUMN settled")
    op.execute(f"""
    ALTER TABLE {S}.person_years
        DROP COLUMN settled, DROP COLUMN settled_on, DROP COLUMN paid_person_fen,
        DROP COLUMN paid_person_on, DROP COLUMN paid_government_fen,
        DROP COLUMN paid_government_on, DROP COLUMN owed_person_fen,
        DROP COLUMN owed_government_fen, DROP COLUMN owed_late_fen, DROP COLUMN on_time_until""")
    op.execute(f"ALTER TABLE {S}.payments DROP COLUMN funding_source, DROP COLUMN timing")
    op.execute(f"""
    ALTER TABLE {S}.determinations DROP COLUMN surcharge_fen, DROP COLUMN on_time_until,
        DROP COLUMN payable_until, DROP COLUMN late""")
