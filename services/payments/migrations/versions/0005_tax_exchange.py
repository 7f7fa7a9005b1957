"""Exchange with the tax bureau (税务局) and the reconciliation medical insurance <-> tax.

- tax_outgoing_files: the files payments sends (费源 dues, 特殊缴费单据 special-payment
  documents), numbered in sequence per kind and region, with their control totals and their
  exact content (a re-send is the same bytes).
- tax_outgoing_state: what the tax bureau was last told per person, year and item (the dues, or
  one budget line's part), so that the next file holds only what changed.
- tax_incoming_files: the tax bureau's payment files that were applied (sequence per region,
  content hash: the same file again changes nothing); tax_incoming_refusals: files refused whole,
  with their row reasons.
- tax_payment_records: the rows of applied files (what tax says it collected), with the ledger
  outcome of each.
- tax_reconciliations / tax_reconciliation_differences: a period compared, differences by kind,
  each resolved with a reason and who resolved it.

Revision ID: 0005_tax_exchange
Revises: 0004_c_due_terms_timing
Create Date: 2026-12-04
"""

from alembic import op

revision = "0005_tax_exchange"
down_revision = "0004_c_due_terms_timing"
branch_labels = None
depends_on = None

S = "payments"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.tax_outgoing_files (
        id bigserial PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('dues', 'special')),
        region_code text NOT NULL,
        plan_year integer NOT NULL,
        seq_no integer NOT NULL CHECK (seq_no > 0),
        record_count integer NOT NULL,
        total_fen bigint NOT NULL,
        content text NOT NULL,
        sha256 text NOT NULL,
        created_by text,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (kind, region_code, seq_no)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.tax_outgoing_state (
        kind text NOT NULL,
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        item text NOT NULL,
        region_code text NOT NULL,
        amount_fen bigint NOT NULL,
        digest text NOT NULL,
        file_id bigint NOT NULL REFERENCES {S}.tax_outgoing_files (id),
        PRIMARY KEY (kind, person_id, plan_year, item)
    )""")
    op.execute(f"""CREATE INDEX tax_outgoing_state_region
                   ON {S}.tax_outgoing_state (kind, region_code, plan_year)""")
    op.execute(f"""
    CREATE TABLE {S}.tax_incoming_files (
        id bigserial PRIMARY KEY,
        region_code text NOT NULL,
        seq_no integer NOT NULL CHECK (seq_no > 0),
        record_count integer NOT NULL,
        total_fen bigint NOT NULL,
        sha256 text NOT NULL,
        outcomes jsonb NOT NULL,
        received_by text,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (region_code, seq_no)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.tax_incoming_refusals (
        id bigserial PRIMARY KEY,
        region_code text,
        seq_no integer,
        sha256 text NOT NULL,
        problems jsonb NOT NULL,
        rows jsonb NOT NULL,
        received_by text,
        created_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(f"""
    CREATE TABLE {S}.tax_payment_records (
        id bigserial PRIMARY KEY,
        file_id bigint NOT NULL REFERENCES {S}.tax_incoming_files (id),
        row_no integer NOT NULL,
        record_type text NOT NULL CHECK (record_type IN ('payment', 'reversal')),
        receipt_no text NOT NULL,
        reverses text,
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        amount_fen bigint NOT NULL CHECK (amount_fen > 0),
        paid_on date NOT NULL,
        paid_at timestamptz NOT NULL,
        tax_channel text NOT NULL,
        invoice_no text,
        outcome text NOT NULL,
        UNIQUE (record_type, receipt_no)
    )""")
    op.execute(f"CREATE INDEX tax_payment_records_person ON {S}.tax_payment_records (person_id)")
    op.execute(f"""
    CREATE TABLE {S}.tax_reconciliations (
        id bigserial PRIMARY KEY,
        region_code text NOT NULL,
        period_start date NOT NULL,
        period_end date NOT NULL,
        seq_no integer,
        sha256 text NOT NULL,
        tax_totals jsonb NOT NULL,
        ledger_totals jsonb NOT NULL,
        counts jsonb NOT NULL,
        schedule jsonb NOT NULL,
        created_by text,
        revision integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (region_code, period_start, period_end)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.tax_reconciliation_differences (
        id bigserial PRIMARY KEY,
        reconciliation_id bigint NOT NULL REFERENCES {S}.tax_reconciliations (id),
        kind text NOT NULL CHECK (kind IN ('tax_only', 'ledger_only', 'amount_differs',
                                           'dates_differ')),
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        tax_amount_fen bigint,
        ledger_amount_fen bigint,
        tax_paid_on date,
        ledger_paid_on date,
        receipt_nos text[] NOT NULL DEFAULT '{{}}',
        ledger_ids bigint[] NOT NULL DEFAULT '{{}}',
        detail text NOT NULL,
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
        resolution jsonb,
        resolved_at timestamptz
    )""")
    op.execute(f"""CREATE INDEX tax_reconciliation_differences_rec
                   ON {S}.tax_reconciliation_differences (reconciliation_id)""")


def downgrade() -> None:
    for table in ("tax_reconciliation_differences", "tax_reconciliations",
                  "tax_payment_records", "tax_incoming_refusals", "tax_incoming_files",
                  "tax_outgoing_state", "tax_outgoing_files"):
        op.execute(f"DROP TABLE {S}.{table}")
