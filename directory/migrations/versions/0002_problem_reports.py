"""problem reports from the public

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:50:00.000000
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('problemreport',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('problem', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('details', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('contact', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('client_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('resolved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('resolved_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.CheckConstraint("problem in ('wrong_phone', 'wrong_address', 'not_in_network', 'not_accepting', 'no_ivig', 'closed', 'other')", name='ck_report_problem'),
    sa.CheckConstraint("status in ('open', 'resolved', 'dismissed')", name='ck_report_status'),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('problemreport', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_problemreport_listing_id'), ['listing_id'], unique=False)
        batch_op.create_index('ix_problemreport_client_created', ['client_key', 'created_at'], unique=False)
        batch_op.create_index('ix_problemreport_status', ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('problemreport', schema=None) as batch_op:
        batch_op.drop_index('ix_problemreport_status')
        batch_op.drop_index('ix_problemreport_client_created')
        batch_op.drop_index(batch_op.f('ix_problemreport_listing_id'))

    op.drop_table('problemreport')
