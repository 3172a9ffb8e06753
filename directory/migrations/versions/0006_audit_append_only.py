"""the audit log is append-only in the database itself

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 10:00:00.000000

The ORM already refused to edit or delete audit entries (directory/audit.py), but raw SQL could.
Triggers make the database refuse UPDATE and DELETE on `auditentry` (and TRUNCATE on PostgreSQL)
whoever sends them; INSERT is unaffected. Both raise an integrity error whose message says
"append-only".

SQLite loses a table's triggers when a batch migration rebuilds it (copy, drop, rename): a later
migration that alters `auditentry` in batch mode must create them again, as `upgrade()` here does.
"""

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

MESSAGE = "audit entries are append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # restrict_violation (SQLSTATE 23001) is an integrity error, like SQLite's RAISE(ABORT).
        op.execute(f"""
            CREATE FUNCTION auditentry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}: % on auditentry is refused', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END
            $$
        """)
        op.execute("CREATE TRIGGER auditentry_no_update_or_delete BEFORE UPDATE OR DELETE ON auditentry "
                   "FOR EACH ROW EXECUTE FUNCTION auditentry_append_only()")
        op.execute("CREATE TRIGGER auditentry_no_truncate BEFORE TRUNCATE ON auditentry "
                   "FOR EACH STATEMENT EXECUTE FUNCTION auditentry_append_only()")
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER auditentry_no_{verb.lower()} BEFORE {verb} ON auditentry "
                   f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: {verb} on auditentry is refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER auditentry_no_truncate ON auditentry")
        op.execute("DROP TRIGGER auditentry_no_update_or_delete ON auditentry")
        op.execute("DROP FUNCTION auditentry_append_only()")
        return
    op.execute("DROP TRIGGER auditentry_no_delete")
    op.execute("DROP TRIGGER auditentry_no_update")
