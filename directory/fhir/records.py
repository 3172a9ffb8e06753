"""What one listing's FHIR resources are made from, read from the database in a few queries.

A record holds the rows themselves (plain result rows, read with the models' attribute names; read
only): the mapping is a pure function of a record, so a read, a search page or the tests' whole
data set map the same way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import cache

from sqlalchemy import bindparam
from sqlmodel import Session, SQLModel, select

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


@cache
def _statement(table_name: str, column: str, order: str | None = None):
    """Every column of a table for the rows whose `column` is in the list bound as `ids`, built
    once (building a statement, with a literal IN list, cost more than SQLite running it)."""
    table = SQLModel.metadata.tables[table_name]
    statement = select(*table.c).where(table.c[column].in_(bindparam("ids", expanding=True)))
    return statement.order_by(table.c[order]) if order else statement


@cache
def _specialties_statement():
    return (select(ListingSpecialty.listing_id, Specialty.code, Specialty.display, ListingSpecialty.is_primary,
                   Specialty.section)
            .join(Specialty, Specialty.code == ListingSpecialty.code)
            .where(ListingSpecialty.listing_id.in_(bindparam("ids", expanding=True)))
            .order_by(ListingSpecialty.listing_id, ListingSpecialty.is_primary.desc(), Specialty.code))


@cache
def _participations_statement():
    return (select(Participation.listing_id, Participation.network_id, Participation.start_date,
                   Participation.end_date)
            .where(Participation.listing_id.in_(bindparam("ids", expanding=True)))
            .order_by(Participation.listing_id, Participation.network_id))


def _rows(session: Session, table: str, column: str, wanted: list[int], order: str | None = None):
    """Plain rows of a table (every column, each readable as an attribute, as a model's) whose
    `column` is in `wanted`: no ORM objects are built (a page's worth costs that much less)."""
    if not wanted:
        return []
    return session.execute(_statement(table, column, order), {"ids": wanted})


def load_listings(session: Session, ids: list[int]) -> list[ListingRecord]:
    """Records of these listings (those that exist), in the order given. The rows are plain
    result rows with the models' attribute names (read only, as the mapping reads them)."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        return []
    listings = {row.id: row for row in _rows(session, "listing", "id", unique)}
    # A kind's own rows are read only for listings of that kind (the mapping reads no other).
    kinds = {kind: [lid for lid, row in listings.items() if row.kind == kind]
             for kind in ("organization", "practitioner")}
    organizations = {row.listing_id: row for row in _rows(session, "organization", "listing_id", kinds["organization"])}
    practitioners = {row.listing_id: row for row in _rows(session, "practitioner", "listing_id", kinds["practitioner"])}
    specialties = defaultdict(list)
    for lid, code, display, primary, section in session.execute(_specialties_statement(), {"ids": unique}):
        specialties[lid].append(SpecialtyRow(code, display, bool(primary), section))
    locations = defaultdict(list)
    places = {}
    for loc in _rows(session, "location", "listing_id", unique, "id"):
        locations[loc.listing_id].append(loc)
        places[loc.id] = loc
    role_rows = list(_rows(session, "role", "practitioner_id", kinds["practitioner"], "id"))
    elsewhere = sorted({r.location_id for r in role_rows} - set(places))
    for i in range(0, len(elsewhere), 500):  # roles at organizations' locations
        places.update((loc.id, loc) for loc in _rows(session, "location", "id", elsewhere[i:i + 500]))
    roles = defaultdict(list)
    for row in role_rows:
        if row.location_id in places:  # the join the roles were read with
            roles[row.practitioner_id].append(RoleRow(row, places[row.location_id]))
    memberships = defaultdict(list)
    parts = list(session.execute(_participations_statement(), {"ids": unique}))
    networks = {row.id: row for row in _rows(session, "network", "id", sorted({p[1] for p in parts}))}
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
