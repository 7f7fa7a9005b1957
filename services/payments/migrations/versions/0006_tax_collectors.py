"""Village collectors (村居代收): receipts, voids, daily hand-overs (解缴), the bank's deposits.

- collector_receipt_numbers: the last receipt number used per village (numbers never repeat,
  voided ones included).
- collector_receipts: one per payment a collector took (cash or the collector's QR code), with
  the outcome matching gave it; voided only with a reason, never deleted.
- collector_handovers: one per collector and day, its totals as counted from the receipts and as
  the collector declared them; a hand-over that does not add up is flagged. The bank's deposit
  record confirms it, or marks it short or over by the difference.

Revision ID: 0006_tax_collectors
Revises: 0005_tax_exchange
Create Date: 2026-12-04
"""

from alembic import op

revision = "0006_tax_collectors"
down_revision = "0005_tax_exchange"
branch_labels = None
depends_on = None

S = "payments"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.collector_receipt_numbers (
        village_code text PRIMARY KEY,
        last_no integer NOT NULL
    )""")
    op.execute(f"""
    CREATE TABLE {S}.collector_handovers (
        id bigserial PRIMARY KEY,
        handover_no text NOT NULL UNIQUE,
        collector text NOT NULL,
        village_code text NOT NULL,
        day date NOT NULL,
        receipt_count integer NOT NULL,
        total_fen bigint NOT NULL,
        cash_fen bigint NOT NULL,
        qr_fen bigint NOT NULL,
        voided_count integer NOT NULL,
        declared_count integer NOT NULL,
        declared_total_fen bigint NOT NULL,
        flagged boolean NOT NULL,
        problems jsonb NOT NULL,
        status text NOT NULL DEFAULT 'handed_over'
            CHECK (status IN ('handed_over', 'confirmed', 'short', 'over')),
        bank_ref text UNIQUE,
        deposited_fen bigint,
        deposited_on date,
        difference_fen bigint,
        deposit_recorded_by text,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (collector, day)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.collector_receipts (
        receipt_no text PRIMARY KEY,
        village_code text NOT NULL,
        collector text NOT NULL,
        person_id uuid NOT NULL,
        plan_year integer NOT NULL,
        amount_fen bigint NOT NULL CHECK (amount_fen > 0),
        method text NOT NULL CHECK (method IN ('cash', 'qr')),
        qr_txn_id text,
        collected_at timestamptz NOT NULL,
        day date NOT NULL,
        outcome text NOT NULL,
        status text NOT NULL DEFAULT 'recorded' CHECK (status IN ('recorded', 'voided')),
        void_reason text,
        voided_at timestamptz,
        voided_by text,
        handover_id bigint REFERENCES {S}.collector_handovers (id),
        created_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(f"""CREATE INDEX collector_receipts_day
                   ON {S}.collector_receipts (collector, day) WHERE handover_id IS NULL""")
    op.execute(f"CREATE INDEX collector_receipts_village ON {S}.collector_receipts (village_code)")


def downgrade() -> None:
    for table in ("collector_receipts", "collector_handovers", "collector_receipt_numbers"):
        op.execute(f"DROP TABLE {S}.{table}")
