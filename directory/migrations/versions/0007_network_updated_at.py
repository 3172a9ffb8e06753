"""networks record when they last changed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00.000000

The FHIR API gives every resource meta.lastUpdated; a network's Organization and InsurancePlan
take it from `network.updated_at`. Existing rows get the time of the upgrade. The column is added
with that time as a constant default because SQLite can add a NOT NULL column only with a
constant default, and rebuilding `network` instead would cascade-delete its participations
(foreign keys are on during migrations). PostgreSQL drops the default afterwards; on SQLite it
stays, unused (the model always writes the value).
"""

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    sqlite = op.get_bind().dialect.name == "sqlite"
    # The text each dialect stores for a UTC time (SQLite: SQLAlchemy's own naive format).
    default = now.strftime("%Y-%m-%d %H:%M:%S.000000") if sqlite else now.isoformat()
    op.add_column('network', sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False,
                                       server_default=default))
    if not sqlite:
        op.alter_column('network', 'updated_at', server_default=None)


def downgrade() -> None:
    op.drop_column('network', 'updated_at')
