"""harvest of payers' Plan-Net directories: sources, runs with their checkpoint, network claims

Revision ID: 0012_harvest
Revises: 0010
Create Date: 2026-12-01 07:10:00.000000

`harvestsource` is a registered directory, `harvestrun` one harvest of it (its stage and next page
are the checkpoint committed with each page), `harvestseen` what a running harvest has found so far,
`networkclaim` each source's assertion of a listing in a network with its period (never deleted;
ended when a full harvest no longer finds it). `participation` gains the source that asserts the
row, nullable, so existing rows (staff, imports, demo) need no value and SQLite adds the column
without rebuilding the table.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012_harvest'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('participation', sa.Column('source_id', sa.Integer(), nullable=True))
    op.create_table(
        'harvestsource',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('base_url', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('payer', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('high_water', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('every_hours', sa.Integer(), nullable=False),
        sa.Column('last_started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('last_finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('last_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column('last_counts', sa.JSON(), nullable=False),
        sa.Column('last_errors', sa.JSON(), nullable=False),
        sa.Column('next_due_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint('every_hours >= 1', name='ck_harvestsource_every_hours'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    op.create_table(
        'harvestrun',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source_id', sa.Integer(), nullable=False),
        sa.Column('full', sa.Boolean(), nullable=False),
        sa.Column('dry_run', sa.Boolean(), nullable=False),
        sa.Column('since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('stage', sa.Integer(), nullable=False),
        sa.Column('next_url', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('pages', sa.Integer(), nullable=False),
        sa.Column('newest', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.Column('errors', sa.JSON(), nullable=False),
        sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.CheckConstraint("state in ('running', 'done', 'failed')", name='ck_harvestrun_state'),
        sa.ForeignKeyConstraint(['source_id'], ['harvestsource.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_harvestrun_source_id'), 'harvestrun', ['source_id'], unique=False)
    op.create_index('ix_harvestrun_source_state', 'harvestrun', ['source_id', 'state'], unique=False)
    op.create_table(
        'harvestseen',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('listing_id', sa.Integer(), nullable=False),
        sa.Column('network_id', sa.Integer(), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=True),
        sa.Column('period_end', sa.Date(), nullable=True),
        sa.Column('accepting_new_patients', sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(['run_id'], ['harvestrun.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'listing_id', 'network_id'),
    )
    op.create_table(
        'networkclaim',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source_id', sa.Integer(), nullable=False),
        sa.Column('listing_id', sa.Integer(), nullable=False),
        sa.Column('network_id', sa.Integer(), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=True),
        sa.Column('period_end', sa.Date(), nullable=True),
        sa.Column('accepting_new_patients', sa.Boolean(), nullable=True),
        sa.Column('first_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['network_id'], ['network.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['source_id'], ['harvestsource.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source_id', 'listing_id', 'network_id', name='uq_networkclaim'),
    )
    op.create_index(op.f('ix_networkclaim_listing_id'), 'networkclaim', ['listing_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_networkclaim_listing_id'), table_name='networkclaim')
    op.drop_table('networkclaim')
    op.drop_table('harvestseen')
    op.drop_index('ix_harvestrun_source_state', table_name='harvestrun')
    op.drop_index(op.f('ix_harvestrun_source_id'), table_name='harvestrun')
    op.drop_table('harvestrun')
    op.drop_table('harvestsource')
    with op.batch_alter_table('participation') as batch:
        batch.drop_column('source_id')
