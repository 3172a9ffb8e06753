"""indexes for the FHIR API's string, postal-code and specialty searches

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 18:00:00.000000

A FHIR string search is a case- and accent-insensitive prefix (`Practitioner?name=smi`). The
database narrows it to the rows whose case-folded text lies in the prefix's range: indexes on
`column COLLATE NOCASE` on SQLite, on `lower(column) COLLATE "C"` on PostgreSQL (byte order, so a
range is a prefix whatever the database's collation); and the rows with a character beyond ASCII
(whose accents only the application folds) through partial indexes holding just those. The same
for `location.address-postalcode` on the ZIP. A specialty filter reads the listings holding a code
from (code, listing_id). Indexes only: no row changes, and every write path keeps them unaware.
The expressions and predicates are the ones directory/fhir/narrowing.py queries with (the models
name the columns: SQLAlchemy reflects SQLite's collated columns as plain ones).
"""

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

NON_ASCII = {"sqlite": "{} GLOB '*[^\x01-\x7f]*'", "postgresql": "{} ~ '[^\\x01-\\x7f]'"}
FOLDED = {"sqlite": "{} COLLATE NOCASE", "postgresql": 'lower({}) COLLATE "C"'}
# (name, table, columns: folded ones, plain ones, and the partial indexes' text columns)
INDEXES = [
    ("ix_listing_name_folded", "listing", ("name",), (), ()),
    ("ix_practitioner_last_name_folded", "practitioner", ("last_name",), (), ()),
    ("ix_practitioner_first_name_folded", "practitioner", ("first_name",), (), ()),
    ("ix_practitioner_credentials_folded", "practitioner", ("credentials",), (), ()),
    ("ix_location_zip_folded", "location", ("zip",), (), ()),
    ("ix_listing_name_non_ascii", "listing", (), ("id",), ("name",)),
    ("ix_practitioner_name_non_ascii", "practitioner", (), ("listing_id",), ("last_name", "first_name",
                                                                                  "credentials")),
    ("ix_listingspecialty_code", "listingspecialty", (), ("code", "listing_id"), ()),
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, table, folded, plain, partial in INDEXES:
        columns = ", ".join([FOLDED[dialect].format(column) for column in folded] + list(plain))
        where = " OR ".join(NON_ASCII[dialect].format(column) for column in partial)
        op.execute(f"CREATE INDEX {name} ON {table} ({columns})" + (f" WHERE {where}" if where else ""))


def downgrade() -> None:
    for name, table, *_ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
