"""Township counters (`progress_townships`): the village x band counters summed per township,
kept by the same statements that keep the village rows, so a county's or a province's
progress reads a few rows per township instead of summing thousands of village rows.

Revision ID: 0007_progress_townships
Revises: 0006_persons_contacts
Create Date: 2026-12-05
"""

from alembic import op

revision = "0007_progress_townships"
down_revision = "0006_persons_contacts"
branch_labels = None
depends_on = None

S = "reporting"
COUNTERS = ("registered", "settled", "paid_person", "paid_government", "paid_person_fen",
            "paid_government_fen")


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.progress_townships (
        plan_year integer NOT NULL,
        county_code text NOT NULL,
        township_code text NOT NULL,
        band text NOT NULL,
        registered integer NOT NULL DEFAULT 0,
        settled integer NOT NULL DEFAULT 0,
        paid_person integer NOT NULL DEFAULT 0,
        paid_government integer NOT NULL DEFAULT 0,
        paid_person_fen bigint NOT NULL DEFAULT 0,
        paid_government_fen bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (plan_year, county_code, township_code, band)
    )""")
    op.execute(f"""
    INSERT INTO {S}.progress_townships (plan_year, county_code, township_code, band,
                                        {', '.join(COUNTERS)})
    SELECT plan_year, county_code, township_code, band, {', '.join(f'sum({c})' for c in COUNTERS)}
    FROM {S}.progress GROUP BY 1, 2, 3, 4""")


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.progress_townships")
