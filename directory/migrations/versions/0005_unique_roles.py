"""one role per practitioner and location, enforced by the database

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 15:10:00.000000

The write path always refused a second role for the same practitioner at the same location, but
only in code: two staff adding it at once could both pass the check. Rows that repeat a pair
(only such a race can have made them) keep the oldest.
"""

from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM role WHERE id NOT IN "
               "(SELECT min(id) FROM role GROUP BY practitioner_id, location_id)")
    with op.batch_alter_table('role', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_role_practitioner_location', ['practitioner_id', 'location_id'])


def downgrade() -> None:
    with op.batch_alter_table('role', schema=None) as batch_op:
        batch_op.drop_constraint('uq_role_practitioner_location', type_='unique')
