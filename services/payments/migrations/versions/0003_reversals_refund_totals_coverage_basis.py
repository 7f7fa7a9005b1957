"""Reversals (冲正), refunds tied to the payment they give back, the recorded coverage basis.

- ledger.kind 'reversal': a channel (or staff, for a misattributed match) undoes a payment.
- ledger.refers_to: the channel transaction id of the payment a refund or reversal gives back;
  an Alipay trade's refunds are summed through it (refund_fee is the trade's running total).
- ledger.outcome 'offset' (a payment and its reversal that cancelled each other before the
  payment reached an order) and 'superseded' (an Alipay refund notification whose running total
  was already reached by a later one: no money of its own).
- orders.status 'reversed'; orders and ledger record the coverage basis (why coverage starts
  when it does) as JSON.
- suspense.revision: grows with every change (opened, resolved, reopened after a reversal).
- reconciliation_items.result 'reversed': the statement shows a booked payment as failed and the
  ledger holds (or now received) its reversal.
- dues (region_code, plan_year): the first plan year payments holds for a region.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "payments"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.ledger DROP CONSTRAINT ledger_kind_check")
    op.execute(f"""ALTER TABLE {S}.ledger ADD CONSTRAINT ledger_kind_check
                   CHECK (kind IN ('payment', 'refund', 'proxy', 'reversal'))""")
    op.execute(f"ALTER TABLE {S}.ledger DROP CONSTRAINT ledger_outcome_check")
    op.execute(f"""ALTER TABLE {S}.ledger ADD CONSTRAINT ledger_outcome_check
                   CHECK (outcome IN ('applied', 'suspense', 'offset', 'superseded'))""")
    op.execute(f"ALTER TABLE {S}.ledger ADD COLUMN refers_to text")
    op.execute(f"ALTER TABLE {S}.ledger ADD COLUMN coverage_basis jsonb")
    op.execute(f"""CREATE INDEX ledger_refers_to ON {S}.ledger (channel, refers_to)
                   WHERE refers_to IS NOT NULL""")
    op.execute(f"ALTER TABLE {S}.orders DROP CONSTRAINT orders_status_check")
    op.execute(f"""ALTER TABLE {S}.orders ADD CONSTRAINT orders_status_check
                   CHECK (status IN ('open', 'paid', 'refunded', 'closed', 'reversed'))""")
    op.execute(f"ALTER TABLE {S}.orders ADD COLUMN coverage_basis jsonb")
    op.execute(f"""CREATE INDEX orders_paid_by ON {S}.orders (channel, channel_txn_id)
                   WHERE channel_txn_id IS NOT NULL""")
    op.execute(f"ALTER TABLE {S}.suspense ADD COLUMN revision integer NOT NULL DEFAULT 1")
    op.execute(f"UPDATE {S}.suspense SET revision = 2 WHERE status = 'resolved'")
    op.execute(f"CREATE INDEX suspense_ledger ON {S}.suspense (ledger_id)")
    op.execute(f"""ALTER TABLE {S}.reconciliation_items
                   DROP CONSTRAINT reconciliation_items_result_check""")
    op.execute(f"""ALTER TABLE {S}.reconciliation_items ADD CONSTRAINT
                   reconciliation_items_result_check CHECK (result IN ('matched', 'channel_only',
                   'ledger_only', 'amount_mismatch', 'status_mismatch', 'carried', 'ignored',
                   'reversed'))""")
    op.execute(f"CREATE INDEX dues_region_year ON {S}.dues (region_code, plan_year)")


def downgrade() -> None:
    op.execute(f"DROP INDEX {S}.dues_region_year")
    op.execute(f"DROP INDEX {S}.suspense_ledger")
    op.execute(f"ALTER TABLE {S}.suspense DROP COLUMN revision")
    op.execute(f"DROP INDEX {S}.orders_paid_by")
    op.execute(f"ALTER TABLE {S}.orders DROP COLUMN coverage_basis")
    op.execute(f"ALTER TABLE {S}.ledger DROP COLUMN coverage_basis")
    op.execute(f"DROP INDEX {S}.ledger_refers_to")
    op.execute(f"ALTER TABLE {S}.ledger DROP COLUMN refers_to")
