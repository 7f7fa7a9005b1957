"""Certified lists versioned per department, region and plan year; reference data kept per
kind and region; error reports remember the uploader's region.

Rows written before this migration belong to the nationwide scope 000000 (what they were).

Revision ID: 0005_b_lists_per_region
Revises: 0004
Create Date: 2026-12-04
"""

from alembic import op

revision = "0005_b_lists_per_region"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "registration"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.list_versions ADD COLUMN region_code text NOT NULL "
               "DEFAULT '000000'")
    op.execute(f"ALTER TABLE {S}.list_versions ADD COLUMN uploaded_by text")
    op.execute(f"ALTER TABLE {S}.list_versions "
               "DROP CONSTRAINT list_versions_department_plan_year_version_no_key")
    op.execute(f"ALTER TABLE {S}.list_versions ADD CONSTRAINT list_versions_scope_version "
               "UNIQUE (department, region_code, plan_year, version_no)")
    op.execute(f"DROP INDEX {S}.list_versions_sha")
    op.execute(f"ALTER TABLE {S}.list_entries ADD COLUMN disability_grade smallint")
    op.execute(f"CREATE INDEX list_entries_person_group ON {S}.list_entries "
               "(person_id, group_code)")

    op.execute(f"ALTER TABLE {S}.reference_persons ADD COLUMN region_code text NOT NULL "
               "DEFAULT '000000'")
    op.execute(f"ALTER TABLE {S}.reference_persons DROP CONSTRAINT reference_persons_pkey")
    op.execute(f"ALTER TABLE {S}.reference_persons ADD PRIMARY KEY "
               "(kind, region_code, id_number_hash)")
    op.execute(f"CREATE INDEX reference_persons_hash ON {S}.reference_persons "
               "(id_number_hash, kind)")
    op.execute(f"ALTER TABLE {S}.reference_uploads ADD COLUMN region_code text NOT NULL "
               "DEFAULT '000000'")
    op.execute(f"ALTER TABLE {S}.reference_uploads DROP CONSTRAINT reference_uploads_pkey")
    op.execute(f"ALTER TABLE {S}.reference_uploads ADD PRIMARY KEY (kind, region_code)")

    op.execute(f"ALTER TABLE {S}.error_reports ADD COLUMN region_code text")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.error_reports DROP COLUMN region_code")
    op.execute(f"ALTER TABLE {S}.reference_uploads DROP CONSTRAINT reference_uploads_pkey")
    op.execute(f"DELETE FROM {S}.reference_uploads WHERE region_code <> '000000'")
    op.execute(f"ALTER TABLE {S}.reference_uploads DROP COLUMN region_code")
    op.execute(f"ALTER TABLE {S}.reference_uploads ADD PRIMARY KEY (kind)")
    op.execute(f"DROP INDEX {S}.reference_persons_hash")
    op.execute(f"ALTER TABLE {S}.reference_persons DROP CONSTRAINT reference_persons_pkey")
    op.execute(f"DELETE FROM {S}.reference_persons WHERE region_code <> '000000'")
    op.execute(f"ALTER TABLE {S}.reference_persons DROP COLUMN region_code")
    op.execute(f"ALTER TABLE {S}.reference_persons ADD PRIMARY KEY (kind, id_number_hash)")
    op.execute(f"DROP INDEX {S}.list_entries_person_group")
    op.execute(f"ALTER TABLE {S}.list_entries DROP COLUMN disability_grade")
    op.execute(f"CREATE INDEX list_versions_sha ON {S}.list_versions "
               "(department, plan_year, content_sha256)")
    op.execute(f"ALTER TABLE {S}.list_versions DROP CONSTRAINT list_versions_scope_version")
    op.execute(f"DELETE FROM {S}.list_entries WHERE list_version_id IN "
               f"(SELECT id FROM {S}.list_versions WHERE region_code <> '000000')")
    op.execute(f"DELETE FROM {S}.list_versions WHERE region_code <> '000000'")
    op.execute(f"ALTER TABLE {S}.list_versions ADD CONSTRAINT "
               "list_versions_department_plan_year_version_no_key "
               "UNIQUE (department, plan_year, version_no)")
    op.execute(f"ALTER TABLE {S}.list_versions DROP COLUMN uploaded_by")
    op.execute(f"ALTER TABLE {S}.list_versions DROP COLUMN region_code")
