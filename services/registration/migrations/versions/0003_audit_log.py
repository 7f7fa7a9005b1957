"""The append-only audit log (shared/audit.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "registration"

# The audit log as it was at this revision (frozen: a migration never imports live
# DDL from the running code).
_AUDIT_LOG = [
    f"""CREATE TABLE IF NOT EXISTS {S}.audit_log (
            id bigserial PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            role text,
            region text,
            action text NOT NULL,
            resource text NOT NULL,
            outcome text NOT NULL DEFAULT 'ok',
            client_ip inet,
            correlation_id text,
            details jsonb NOT NULL DEFAULT '{{}}'::jsonb
        )""",
    f"""CREATE INDEX IF NOT EXISTS audit_log_at ON {S}.audit_log (at)""",
    f"""CREATE INDEX IF NOT EXISTS audit_log_actor_id ON {S}.audit_log (actor, id)""",
    f"""CREATE INDEX IF NOT EXISTS audit_log_action_id ON {S}.audit_log (action, id)""",
    f"""CREATE OR REPLACE FUNCTION {S}.audit_log_refuse_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$""",
    f"""CREATE OR REPLACE TRIGGER audit_log_append_only
            BEFORE UPDATE OR DELETE ON {S}.audit_log
            FOR EACH ROW EXECUTE FUNCTION {S}.audit_log_refuse_change()""",
    f"""CREATE OR REPLACE TRIGGER audit_log_no_truncate
            BEFORE TRUNCATE ON {S}.audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION {S}.audit_log_refuse_change()""",
    f"""REVOKE UPDATE, DELETE, TRUNCATE ON {S}.audit_log FROM PUBLIC""",
]


def upgrade() -> None:
    for statement in _AUDIT_LOG:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE registration.audit_log CASCADE")
