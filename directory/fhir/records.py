"""What one listing's FHIR resources are made from, read from the database in a few queries.

A record holds the rows themselves (SQLModel objects, read only): the mapping is a pure function
of a record, so a read, a search page or the tests' whole data set map the same way.
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


def load_listings(session: Session, ids: list[int]) -> list[ListingRecord]:
    """Records of these listings (those that exist), in the order given."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        return []
    listings = {row.id: row for row in session.exec(select(Listing).where(Listing.id.in_(unique)))}
    organizations = {row.listing_id: row for row in
                     session.exec(select(Organization).where(Organization.listing_id.in_(unique)))}
    practitioners = {row.listing_id: row for row in
                     session.exec(select(Practitioner).where(Practitioner.listing_id.in_(unique)))}
    specialties = defaultdict(list)
    for lid, code, display, primary, section in session.exec(
        select(ListingSpecialty.listing_id, Specialty.code, Specialty.display, ListingSpecialty.is_primary,
               Specialty.section)
        .join(Specialty, Specialty.code == ListingSpecialty.code)
        .where(ListingSpecialty.listing_id.in_(unique))
        .order_by(ListingSpecialty.listing_id, ListingSpecialty.is_primary.desc(), Specialty.code)
    ):
        specialties[lid].append(SpecialtyRow(code, display, bool(primary), section))
    locations = defaultdict(list)
    for loc in session.exec(select(Location).where(Location.listing_id.in_(unique)).order_by(Location.id)):
        locations[loc.listing_id].append(loc)
    roles = defaultdict(list)
    for role, loc in session.exec(
        select(Role, Location).join(Location, Location.id == Role.location_id)
        .where(Role.practitioner_id.in_(unique)).order_by(Role.id)
    ):
        roles[role.practitioner_id].append(RoleRow(role, loc))
    memberships = defaultdict(list)
    for part, network in session.exec(
        select(Participation, Network).join(Network, Network.id == Participation.network_id)
        .where(Participation.listing_id.in_(unique)).order_by(Participation.listing_id, Network.id)
    ):
        memberships[part.listing_id].append(Membership(network, part.start_date, part.end_date))
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
