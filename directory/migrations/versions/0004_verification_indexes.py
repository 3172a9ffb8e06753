"""indexes for the verification queue and open problem reports

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 11:15:00.000000
"""

from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.create_index('ix_listing_last_verified', ['last_verified', 'id'], unique=False)
    with op.batch_alter_table('problemreport', schema=None) as batch_op:
        batch_op.create_index('ix_problemreport_listing_status', ['listing_id', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('problemreport', schema=None) as batch_op:
        batch_op.drop_index('ix_problemreport_listing_status')
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.drop_index('ix_listing_last_verified')
