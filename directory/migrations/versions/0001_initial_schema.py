"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 09:08:24.361381
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('indexchange',
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('applied_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('indexchange', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_indexchange_applied_at'), ['applied_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_indexchange_listing_id'), ['listing_id'], unique=False)

    op.create_table('listing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('npi', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('accepting_new_patients', sa.Boolean(), nullable=False),
    sa.Column('telehealth', sa.Boolean(), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('services', sa.JSON(), nullable=False),
    sa.Column('website', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('last_verified', sa.Date(), nullable=True),
    sa.Column('verified_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('verification_method', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind in ('organization', 'practitioner')", name='ck_listing_kind'),
    sa.CheckConstraint("verification_method is null or verification_method in ('phone', 'email', 'attestation', 'nppes', 'import')", name='ck_listing_verification_method'),
    sa.CheckConstraint('length(npi) = 10', name='ck_listing_npi_len'),
    sa.CheckConstraint('version >= 1', name='ck_listing_version'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('npi')
    )
    op.create_table('network',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payer', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('plan_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('payer', 'name', name='uq_network_payer_name')
    )
    op.create_table('specialty',
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('display', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('group', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('section', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.CheckConstraint("section in ('individual', 'organization')", name='ck_specialty_section'),
    sa.CheckConstraint('length(code) = 10', name='ck_specialty_code_len'),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('staffuser',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("role in ('editor', 'verifier', 'admin')", name='ck_staff_role'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    op.create_table('auditentry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('listing_id', sa.Integer(), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staffuser.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('auditentry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auditentry_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auditentry_listing_id'), ['listing_id'], unique=False)

    op.create_table('listingspecialty',
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('is_primary', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['code'], ['specialty.code'], ),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('listing_id', 'code')
    )
    op.create_table('location',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('city', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('zip', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('geo_source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('fax', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('hours', sa.JSON(), nullable=False),
    sa.Column('wheelchair_accessible', sa.Boolean(), nullable=False),
    sa.CheckConstraint("geo_source in ('zip_centroid', 'geocoder')", name='ck_loc_geo_source'),
    sa.CheckConstraint('lat between -90 and 90 and lon between -180 and 180', name='ck_loc_coords'),
    sa.CheckConstraint('length(zip) = 5', name='ck_loc_zip_len'),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('location', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_location_listing_id'), ['listing_id'], unique=False)

    op.create_table('organization',
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('org_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('ivig_products', sa.JSON(), nullable=False),
    sa.Column('chairs', sa.Integer(), nullable=True),
    sa.Column('pediatric', sa.Boolean(), nullable=False),
    sa.Column('prior_auth_help', sa.Boolean(), nullable=False),
    sa.CheckConstraint("org_type in ('infusion_center', 'home_infusion', 'hospital_infusion', 'specialty_pharmacy', 'practice')", name='ck_org_type'),
    sa.CheckConstraint('chairs is null or chairs >= 0', name='ck_org_chairs'),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('listing_id')
    )
    op.create_table('participation',
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('network_id', sa.Integer(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.CheckConstraint('start_date is null or end_date is null or start_date <= end_date', name='ck_participation_dates'),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('listing_id', 'network_id')
    )
    with op.batch_alter_table('participation', schema=None) as batch_op:
        batch_op.create_index('ix_participation_network', ['network_id'], unique=False)

    op.create_table('practitioner',
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('first_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('last_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('credentials', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('gender', sqlmodel.sql.sqltypes.AutoString(length=1), nullable=True),
    sa.CheckConstraint("gender is null or gender in ('F', 'M', 'X')", name='ck_prac_gender'),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('listing_id')
    )
    op.create_table('role',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practitioner_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('specialty_code', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('accepting_new_patients', sa.Boolean(), nullable=False),
    sa.Column('telehealth', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['listing.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['practitioner_id'], ['listing.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['specialty_code'], ['specialty.code'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('role', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_location_id'), ['location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_role_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_role_practitioner_id'), ['practitioner_id'], unique=False)




def downgrade() -> None:
    with op.batch_alter_table('role', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_practitioner_id'))
        batch_op.drop_index(batch_op.f('ix_role_organization_id'))
        batch_op.drop_index(batch_op.f('ix_role_location_id'))

    op.drop_table('role')
    op.drop_table('practitioner')
    with op.batch_alter_table('participation', schema=None) as batch_op:
        batch_op.drop_index('ix_participation_network')

    op.drop_table('participation')
    op.drop_table('organization')
    with op.batch_alter_table('location', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_location_listing_id'))

    op.drop_table('location')
    op.drop_table('listingspecialty')
    with op.batch_alter_table('auditentry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auditentry_listing_id'))
        batch_op.drop_index(batch_op.f('ix_auditentry_at'))

    op.drop_table('auditentry')
    op.drop_table('staffuser')
    op.drop_table('specialty')
    op.drop_table('network')
    op.drop_table('listing')
    with op.batch_alter_table('indexchange', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indexchange_listing_id'))
        batch_op.drop_index(batch_op.f('ix_indexchange_applied_at'))

    op.drop_table('indexchange')

