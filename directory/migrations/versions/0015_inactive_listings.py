"""a partial index of the inactive listings (FHIR Location?near counts locations by point)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 00:30:00.000000

`Location?near` now counts the locations in the radius by point in the database (migration 0014's
index) instead of reading every one; the locations of inactive listings are taken off those
counts, and this index finds such listings (few) without reading the listing table. Index only:
no row changes.
"""

from alembic import op
from sqlalchemy import text

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

INACTIVE = "NOT listing.active"  # as directory.models.common.INACTIVE was when this was written


def upgrade() -> None:
    # On `active`: SQLite keeps the row id in the index, so it covers `SELECT id ... WHERE NOT active`
    # (SQLite's planner prefers a scan of a covering index to a partial index that is not).
    op.create_index("ix_listing_inactive", "listing", ["active"], sqlite_where=text(INACTIVE),
                    postgresql_where=text(INACTIVE), postgresql_include=["id"])


def downgrade() -> None:
    op.drop_index("ix_listing_inactive", table_name="listing")
