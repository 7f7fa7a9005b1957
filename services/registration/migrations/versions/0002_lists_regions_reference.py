"""Registration: uploaded villages, list versions, error reports, reference data, imports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "registration"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.villages (
        code text PRIMARY KEY CHECK (code ~ '^[0-9]{{12}}$'),
        township_code text NOT NULL,
        name text NOT NULL,
        urban_rural text,
        upload_sha256 text,
        created_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(f"CREATE INDEX villages_township ON {S}.villages (township_code, code)")
    op.execute(f"CREATE INDEX persons_household ON {S}.persons (household_id)")
    op.execute(f"CREATE INDEX enrollments_year_status ON {S}.enrollments (plan_year, status)")
    op.execute(f"""
    CREATE TABLE {S}.list_versions (
        id bigserial PRIMARY KEY,
        department text NOT NULL,
        plan_year integer NOT NULL,
        version_no integer NOT NULL,
        kind text NOT NULL CHECK (kind IN ('preliminary', 'final')),
        content_sha256 text NOT NULL,
        filename text,
        row_count integer NOT NULL,
        added integer NOT NULL,
        removed integer NOT NULL,
        changed integer NOT NULL,
        uploaded_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (department, plan_year, version_no)
    )""")
    op.execute(f"CREATE INDEX list_versions_sha ON {S}.list_versions (department, plan_year, content_sha256)")
    op.execute(f"""
    CREATE TABLE {S}.list_entries (
        list_version_id bigint NOT NULL REFERENCES {S}.list_versions (id),
        person_id uuid NOT NULL,
        group_code text NOT NULL,
        certified_on date,
        ends_on date,
        later_birth_on date,
        row_number integer NOT NULL,
        PRIMARY KEY (list_version_id, person_id, group_code)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.error_reports (
        id uuid PRIMARY KEY,
        upload_kind text NOT NULL,
        filename text,
        content_sha256 text,
        error_count integer NOT NULL,
        errors jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(f"""
    CREATE TABLE {S}.reference_persons (
        kind text NOT NULL CHECK (kind IN
            ('household_register', 'employee_pension', 'employee_insurance')),
        id_number_hash text NOT NULL,
        id_number_masked text NOT NULL,
        name text NOT NULL,
        household_number text,
        township_code text,
        village_code text,
        active boolean NOT NULL,
        fields jsonb NOT NULL DEFAULT '{{}}',
        PRIMARY KEY (kind, id_number_hash)
    )""")
    op.execute(f"CREATE INDEX reference_village ON {S}.reference_persons (kind, village_code)")
    op.execute(f"""
    CREATE TABLE {S}.reference_uploads (
        kind text PRIMARY KEY,
        content_sha256 text NOT NULL,
        row_count integer NOT NULL,
        uploaded_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(f"""
    CREATE TABLE {S}.township_population (
        township_code text NOT NULL,
        year integer NOT NULL,
        registered integer NOT NULL,
        resident integer,
        PRIMARY KEY (township_code, year)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.resident_imports (
        id uuid PRIMARY KEY,
        filename text NOT NULL,
        content_rows integer NOT NULL,
        imported integer NOT NULL,
        already_registered integer NOT NULL,
        finished_at timestamptz NOT NULL DEFAULT now()
    )""")


def downgrade() -> None:
    for table in ("resident_imports", "township_population", "reference_uploads",
                  "reference_persons", "error_reports", "list_entries", "list_versions",
                  "villages"):
        op.execute(f"DROP TABLE {S}.{table}")
    op.execute(f"DROP INDEX {S}.persons_household")
    op.execute(f"DROP INDEX {S}.enrollments_year_status")
