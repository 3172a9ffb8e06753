"""one role per practitioner and location, enforced by the database

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 15:10:00.000000

The write path always refused a second role for the same practitioner at the same location, but
only in code: two staff adding it at once could both pass the check. Rows that repeat a pair
(only such a race can have made them) keep the oldest. Each role removed gets an audit entry
(actor "migration 0005", action "role.remove", like `roles.remove_role`'s, plus the id of the role
kept) and its practitioner and organization an index change, in the migration's transaction.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# The tables as they are at this revision (not the models, which later revisions may change).
auditentry = sa.table('auditentry', sa.column('at', sqlmodel.sql.sqltypes.UTCDateTime()),
                      sa.column('actor', sa.String()), sa.column('listing_id', sa.Integer()),
                      sa.column('action', sa.String()), sa.column('changes', sa.JSON()))
indexchange = sa.table('indexchange', sa.column('listing_id', sa.Integer()),
                       sa.column('created_at', sqlmodel.sql.sqltypes.UTCDateTime()))
DUPLICATES = sa.text(
    "SELECT role.id, role.practitioner_id, role.organization_id, role.location_id, role.specialty_code, "
    "role.accepting_new_patients, role.telehealth, kept.id AS kept_id FROM role JOIN "
    "(SELECT practitioner_id, location_id, min(id) AS id FROM role GROUP BY practitioner_id, location_id) kept "
    "ON kept.practitioner_id = role.practitioner_id AND kept.location_id = role.location_id "
    "WHERE role.id <> kept.id ORDER BY role.id"
)


def _audit_removals() -> None:
    now = datetime.now(UTC)
    removed = op.get_bind().execute(DUPLICATES).mappings().all()
    entries, changed = [], set()
    for role in removed:
        fields = {key: role[key] for key in ("id", "practitioner_id", "organization_id", "location_id",
                                             "specialty_code", "accepting_new_patients", "telehealth")}
        fields["accepting_new_patients"], fields["telehealth"] = (bool(fields["accepting_new_patients"]),
                                                                  bool(fields["telehealth"]))
        entries.append({"at": now, "actor": "migration 0005", "listing_id": role["practitioner_id"],
                        "action": "role.remove",
                        "changes": {"role": [fields, None], "duplicate_of": [None, role["kept_id"]]}})
        changed.update(i for i in (role["practitioner_id"], role["organization_id"]) if i is not None)
    if entries:
        op.bulk_insert(auditentry, entries)
        op.bulk_insert(indexchange, [{"listing_id": i, "created_at": now} for i in sorted(changed)])


def upgrade() -> None:
    _audit_removals()
    op.execute("DELETE FROM role WHERE id NOT IN "
               "(SELECT min(id) FROM role GROUP BY practitioner_id, location_id)")
    with op.batch_alter_table('role', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_role_practitioner_location', ['practitioner_id', 'location_id'])


def downgrade() -> None:
    with op.batch_alter_table('role', schema=None) as batch_op:
        batch_op.drop_constraint('uq_role_practitioner_location', type_='unique')
