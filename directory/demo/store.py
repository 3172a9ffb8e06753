"""Database work for the demo data: delete demo rows, audit the reseed, next free ids, and NPI
collision fixes."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, or_, select, text
from sqlalchemy.engine import Connection

from directory.demo.vocabulary import Batch
from directory.models import (
    AuditEntry,
    Listing,
    ListingSpecialty,
    Location,
    Network,
    Organization,
    Participation,
    Practitioner,
    Role,
    utcnow,
)
from directory.npi import make_npi


def delete_demo(conn: Connection) -> tuple[int, int]:
    """Delete every demo listing and demo network with the rows that point at them (FK-safe order);
    return how many (listings, networks) were deleted."""
    demo_ids = select(Listing.id).where(Listing.is_demo.is_(True)).scalar_subquery()
    demo_networks = select(Network.id).where(Network.is_demo.is_(True)).scalar_subquery()
    demo_locations = select(Location.id).where(Location.listing_id.in_(demo_ids)).scalar_subquery()
    conn.execute(
        delete(Participation).where(
            or_(Participation.listing_id.in_(demo_ids), Participation.network_id.in_(demo_networks))
        )
    )
    conn.execute(
        delete(Role).where(
            or_(
                Role.practitioner_id.in_(demo_ids),
                Role.organization_id.in_(demo_ids),
                Role.location_id.in_(demo_locations),
            )
        )
    )
    for table in (Location, ListingSpecialty, Organization, Practitioner):
        conn.execute(delete(table).where(table.listing_id.in_(demo_ids)))
    listings = conn.execute(delete(Listing).where(Listing.is_demo.is_(True))).rowcount
    networks = conn.execute(delete(Network).where(Network.is_demo.is_(True))).rowcount
    return listings, networks


def audit_reseed(conn: Connection, *, removed: tuple[int, int], added: tuple[int, int], seed: int) -> None:
    """The reseed's one audit entry: demo listings and networks before and after, and the seed.

    Demo rows are written with Core bulk inserts, not through the service, so they get no entry of
    their own; this summary is the trail of what the reseed removed and added."""
    conn.execute(insert(AuditEntry.__table__).values(
        at=utcnow(), actor="seed-demo", action="demo.reseed", listing_id=None,
        changes={"demo_listings": [removed[0], added[0]], "demo_networks": [removed[1], added[1]],
                 "seed": [None, seed]},
    ))


def _next_id(conn: Connection, column) -> int:
    return (conn.execute(select(func.max(column))).scalar() or 0) + 1


def _fix_npis(conn: Connection, batch: Batch, overflow: list[int]) -> None:
    """Give a fresh NPI to any generated listing whose NPI a non-demo listing already has."""
    while True:
        npis = [row["npi"] for row in batch.listings]
        taken: set[str] = set()
        for i in range(0, len(npis), 900):  # stay under SQLite's bound-parameter limit
            chunk = npis[i : i + 900]
            taken.update(conn.execute(select(Listing.npi).where(Listing.npi.in_(chunk))).scalars())
        if not taken:
            return
        for row in batch.listings:
            if row["npi"] in taken:
                row["npi"] = make_npi(overflow[0], individual=row["kind"] == "practitioner")
                overflow[0] += 1


def sync_sequences(conn: Connection) -> None:
    """After inserting explicit ids, move PostgreSQL's id sequences past them (SQLite needs nothing:
    its next id is always max + 1). Without this the next ordinary insert collides with demo rows."""
    if conn.dialect.name != "postgresql":
        return
    for table in ("listing", "location", "role", "network"):
        conn.execute(text(
            f"select setval(pg_get_serial_sequence('{table}', 'id'), "
            f"coalesce((select max(id) from {table}), 0) + 1, false)"
        ))
    conn.commit()
