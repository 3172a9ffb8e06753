"""What one listing's FHIR resources are made from, read from the database in a few queries.

A record holds the rows themselves (plain result rows, read with the models' attribute names; read
only): the mapping is a pure function of a record, so a read, a search page or the tests' whole
data set map the same way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, select

from directory.models import (
    Listing,
    ListingSpecialty,
    Location,
    Network,
    Organization,
    Participation,
    Practitioner,
    Role,
    Specialty,
)


@dataclass(frozen=True)
class SpecialtyRow:
    code: str
    display: str
    primary: bool
    section: str


@dataclass(frozen=True)
class Membership:
    """A listing in a network, with the participation's dates."""

    network: Network
    start: date | None
    end: date | None


@dataclass(frozen=True)
class RoleRow:
    """A practitioner's role with the location it is at (its own or an organization's)."""

    role: Role
    location: Location


@dataclass(frozen=True)
class ListingRecord:
    listing: Listing
    organization: Organization | None = None
    practitioner: Practitioner | None = None
    specialties: list[SpecialtyRow] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    roles: list[RoleRow] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)


def _rows(session: Session, table, column, wanted: list[int], *order):
    """Plain rows of a table (every column, each readable as an attribute, as a model's) whose
    `column` is in `wanted`: no ORM objects are built (a page's worth costs that much less)."""
    statement = select(*table.c).where(column.in_(wanted))
    return session.execute(statement.order_by(*order) if order else statement)


def load_listings(session: Session, ids: list[int]) -> list[ListingRecord]:
    """Records of these listings (those that exist), in the order given. The rows are plain
    result rows with the models' attribute names (read only, as the mapping reads them)."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        return []
    listing, organization, practitioner = Listing.__table__, Organization.__table__, Practitioner.__table__
    location, role, network = Location.__table__, Role.__table__, Network.__table__
    listings = {row.id: row for row in _rows(session, listing, listing.c.id, unique)}
    organizations = {row.listing_id: row for row in _rows(session, organization, organization.c.listing_id, unique)}
    practitioners = {row.listing_id: row for row in _rows(session, practitioner, practitioner.c.listing_id, unique)}
    specialties = defaultdict(list)
    for lid, code, display, primary, section in session.execute(
        select(ListingSpecialty.listing_id, Specialty.code, Specialty.display, ListingSpecialty.is_primary,
               Specialty.section)
        .join(Specialty, Specialty.code == ListingSpecialty.code)
        .where(ListingSpecialty.listing_id.in_(unique))
        .order_by(ListingSpecialty.listing_id, ListingSpecialty.is_primary.desc(), Specialty.code)
    ):
        specialties[lid].append(SpecialtyRow(code, display, bool(primary), section))
    locations = defaultdict(list)
    places = {}
    for loc in _rows(session, location, location.c.listing_id, unique, location.c.id):
        locations[loc.listing_id].append(loc)
        places[loc.id] = loc
    role_rows = list(_rows(session, role, role.c.practitioner_id, unique, role.c.id))
    elsewhere = sorted({r.location_id for r in role_rows} - set(places))
    for i in range(0, len(elsewhere), 500):  # roles at organizations' locations
        places.update((loc.id, loc) for loc in _rows(session, location, location.c.id, elsewhere[i:i + 500]))
    roles = defaultdict(list)
    for row in role_rows:
        if row.location_id in places:  # the join the roles were read with
            roles[row.practitioner_id].append(RoleRow(row, places[row.location_id]))
    memberships = defaultdict(list)
    parts = list(session.execute(
        select(Participation.listing_id, Participation.network_id, Participation.start_date, Participation.end_date)
        .where(Participation.listing_id.in_(unique)).order_by(Participation.listing_id, Participation.network_id)))
    networks = {row.id: row for row in _rows(session, network, network.c.id, sorted({p[1] for p in parts}))}
    for lid, network_id, start, end in parts:
        if network_id in networks:
            memberships[lid].append(Membership(networks[network_id], start, end))
    return [
        ListingRecord(listings[lid], organizations.get(lid), practitioners.get(lid), specialties[lid],
                      locations[lid], roles[lid], memberships[lid])
        for lid in unique if lid in listings
    ]


def load_listing(session: Session, lid: int) -> ListingRecord | None:
    records = load_listings(session, [lid])
    return records[0] if records else None


def load_networks(session: Session, ids: list[int] | None = None) -> list[Network]:
    """Networks by id (every network when `ids` is None), in id order."""
    statement = select(Network).order_by(Network.id)
    if ids is not None:
        statement = statement.where(Network.id.in_(ids))
    return list(session.exec(statement))
