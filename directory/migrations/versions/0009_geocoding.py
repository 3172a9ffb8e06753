"""street-level geocoding: where a location's point came from, and the geocode queue

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 15:00:00.000000

`location` gains the geocoder that placed it, the match quality, when, and the hash of the address
placed; all nullable, so existing rows (every one at its ZIP centroid: `GEOCODER=off` was the only
setting) need no value, and SQLite adds them without rebuilding the table (a rebuild would
cascade-delete roles, foreign keys being on during migrations). `geocodetask` is the queue the
`geocode` command works through; it starts empty: that command first queues every location at its
ZIP centroid that has no row yet, so the locations stored before this migration are placed too.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('location', sa.Column('geocoder', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
    op.add_column('location', sa.Column('geo_quality', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
    op.add_column('location', sa.Column('geocoded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column('location', sa.Column('address_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.create_index(op.f('ix_location_address_hash'), 'location', ['address_hash'], unique=False)
    op.create_table(
        'geocodetask',
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('address_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column('claimed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("state in ('pending', 'done', 'failed', 'rejected')", name='ck_geocodetask_state'),
        sa.CheckConstraint('attempts >= 0', name='ck_geocodetask_attempts'),
        sa.ForeignKeyConstraint(['location_id'], ['location.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('location_id'),
    )
    op.create_index('ix_geocodetask_due', 'geocodetask', ['state', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_geocodetask_address_hash'), 'geocodetask', ['address_hash'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_geocodetask_address_hash'), table_name='geocodetask')
    op.drop_index('ix_geocodetask_due', table_name='geocodetask')
    op.drop_table('geocodetask')
    op.drop_index(op.f('ix_location_address_hash'), table_name='location')
    op.drop_column('location', 'address_hash')
    op.drop_column('location', 'geocoded_at')
    op.drop_column('location', 'geo_quality')
    op.drop_column('location', 'geocoder')
