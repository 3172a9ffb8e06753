"""result cards stored per listing (public_card, public_place)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:00:00.000000

A page of search results reads its cards, ready JSON, in one statement. The tables are derived
like the search index: the outbox writes a listing's card when it writes its document, and
`reindex` writes them all. No foreign keys: the outbox may write a card while another transaction
deletes a row it was made from (that change rewrites the card next). Created empty here; until `flask --app wsgi reindex` fills them, a
page shows the listings without a stored card from their rows as before.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publiccard",
        sa.Column("listing_id", sa.Integer(), primary_key=True),
        sa.Column("head", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("tail", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("last_verified", sa.Date(), nullable=True),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
    )
    op.create_table(
        "publicplace",
        sa.Column("location_id", sa.Integer(), primary_key=True),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    )
    op.create_index(op.f("ix_publicplace_listing_id"), "publicplace", ["listing_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_publicplace_listing_id", table_name="publicplace")
    op.drop_table("publicplace")
    op.drop_table("publiccard")
