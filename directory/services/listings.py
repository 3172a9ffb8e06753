"""The one write path for listings: validate, change rows, audit, record the index change, all in
the caller's transaction.

Callers (views, importers, CLI, test factories) write inside a `directory.services.unit_of_work`,
which commits and then brings the search index up to date before it returns.
"""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import delete, select, update
from sqlmodel import Session

from directory.geo import lookup_zip
from directory.models import (
    MAX_ID,
    AuditEntry,
    Listing,
    ListingSpecialty,
    Location,
    Organization,
    Participation,
    Practitioner,
    Role,
    utcnow,
)
from directory.search.sync import record_change
from directory.services.errors import StaleVersion, ValidationError
from directory.services.geocode_queue import PLACEMENT, address_changed, centroid_placement, queue_locations
from directory.services.listing_rules import ListingInput, LocationInput, format_phone, validate

__all__ = ["ListingInput", "LocationInput", "claim_listing", "create_listing", "delete_listing", "format_phone",
           "set_active", "update_listing", "validate"]





STALE_TEMPLATE = ("this listing was changed by someone else (version {current}, you {verb} version {expected}); "
                  "reload it and make your change again")


def claim_listing(session: Session, listing_id: int, expected_version: int | None = None, *,
                  verb: str = "edited") -> Listing:
    """The listing, its row held for this transaction, checked to be still at `expected_version`.

    A no-op UPDATE takes the row first (PostgreSQL's row lock; SQLite's write lock), so of two
    writes to one listing at once the second waits for the first to commit and then finds the
    version changed: never two writes from one version. Raises LookupError or StaleVersion."""
    if expected_version is not None and not 1 <= expected_version <= MAX_ID:
        expected_version = 0  # no row has it: the claim below finds nothing and the write is stale
    claim = update(Listing).where(Listing.id == listing_id)
    if expected_version is not None:
        claim = claim.where(Listing.version == expected_version)
    claimed = session.execute(claim.values(version=Listing.version)
                              .execution_options(synchronize_session=False)).rowcount
    listing = session.get(Listing, listing_id, populate_existing=True)
    if listing is None:
        raise LookupError(f"no listing {listing_id}")
    if claimed != 1:
        raise StaleVersion(STALE_TEMPLATE.format(current=listing.version, verb=verb, expected=expected_version))
    return listing


def _location_values(loc: LocationInput) -> dict:
    place = lookup_zip(loc.zip)
    return {
        "name": loc.name,
        "address": loc.address.strip(),
        "city": loc.city.strip() or place.city,
        "state": (loc.state.strip() or place.state).upper(),
        "zip": place.zip,
        **centroid_placement(place.lat, place.lon),
        "phone": format_phone(loc.phone),
        "fax": format_phone(loc.fax),
        "hours": loc.hours,
        "wheelchair_accessible": loc.wheelchair_accessible,
    }


def _location_id_errors(session: Session, listing_id: int | None, locations: list[LocationInput]) -> dict[str, str]:
    """Locations named by id must be this listing's own, each named once."""
    errors: dict[str, str] = {}
    named = [(i, loc.id) for i, loc in enumerate(locations) if loc.id is not None]
    if not named:
        return errors
    own = set() if listing_id is None else set(session.execute(
        select(Location.id).where(Location.listing_id == listing_id)).scalars())
    seen: set[int] = set()
    for i, location_id in named:
        if location_id not in own:
            errors[f"locations.{i}.id"] = f"location {location_id} is not one of this listing's locations"
        elif location_id in seen:
            errors[f"locations.{i}.id"] = f"location {location_id} is given twice"
        seen.add(location_id)
    return errors


def _remove_location(session: Session, location: Location, actor: str) -> None:
    """Delete one of a listing's locations and, each with its own audit entry, the roles held there."""
    roles = session.execute(select(Role).where(Role.location_id == location.id).order_by(Role.id)).scalars().all()
    for role in roles:
        session.add(AuditEntry(actor=actor, listing_id=role.practitioner_id, action="role.remove", changes={
            "role": [{"id": role.id, "organization_id": role.organization_id, "location_id": role.location_id,
                      "specialty_code": role.specialty_code}, None],
            "reason": [None, f"location {location.id} was removed from listing {location.listing_id}"],
        }))
        record_change(session, role.practitioner_id)
        session.delete(role)
    session.flush()
    session.delete(location)


def _write_locations(session: Session, listing_id: int, locations: list[LocationInput], actor: str) -> None:
    """Match locations by id: a named one is updated in place (its roles stay), one without an id is
    added, and a stored one left out is removed with the roles held there. Nothing else moves."""
    existing = {loc.id: loc for loc in session.execute(
        select(Location).where(Location.listing_id == listing_id)).scalars()}
    kept = {loc.id for loc in locations if loc.id is not None}
    for location_id in sorted(set(existing) - kept):
        _remove_location(session, existing[location_id], actor)
    moved = []
    for loc in locations:
        values = _location_values(loc)
        if loc.id is not None:
            location = existing[loc.id]
            changed = address_changed(location, values)  # an unchanged address keeps its geocoded point
            for key, value in values.items():
                if changed or key not in PLACEMENT:
                    setattr(location, key, value)
        else:
            location, changed = Location(listing_id=listing_id, **values), True
            session.add(location)
        if changed:
            moved.append(location)
    queue_locations(session, moved)  # geocoded later (`flask --app wsgi geocode`), at the centroid till then


def _write_children(session: Session, listing: Listing, data: ListingInput, actor: str) -> None:
    lid = listing.id
    session.execute(delete(ListingSpecialty).where(ListingSpecialty.listing_id == lid))
    primary = data.primary_specialty or data.specialties[0]
    for code in dict.fromkeys(data.specialties):
        session.add(ListingSpecialty(listing_id=lid, code=code, is_primary=code == primary))
    # Networks still chosen keep their rows (and the participation dates an import or the demo set);
    # only the others are removed or added.
    wanted = list(dict.fromkeys(data.networks))
    session.execute(delete(Participation).where(Participation.listing_id == lid,
                                                Participation.network_id.not_in(wanted)))
    held = set(session.execute(select(Participation.network_id)
                               .where(Participation.listing_id == lid)).scalars())
    for network_id in wanted:
        if network_id not in held:
            session.add(Participation(listing_id=lid, network_id=network_id))
    _write_locations(session, lid, data.locations, actor)
    if listing.kind == "organization":
        org = session.get(Organization, lid) or Organization(listing_id=lid, org_type=data.org_type)
        org.org_type, org.ivig_products = data.org_type, list(data.ivig_products)
        session.add(org)
    else:
        prac = session.get(Practitioner, lid) or Practitioner(
            listing_id=lid, first_name=data.first_name, last_name=data.last_name
        )
        prac.first_name, prac.last_name = data.first_name, data.last_name
        prac.credentials = data.credentials
        session.add(prac)


def _listing_values(data: ListingInput) -> dict:
    return {
        "kind": data.kind,
        "npi": data.npi,
        "name": data.name.strip(),
        "accepting_new_patients": data.accepting_new_patients,
        "telehealth": data.telehealth,
        "languages": list(dict.fromkeys(data.languages)),
        "services": list(dict.fromkeys(data.services)),
        "website": data.website,
    }


def _children(session: Session, listing_id: int) -> dict:
    """A listing's specialties, networks and locations as plain values, for the audit trail."""
    specialties = session.execute(
        select(ListingSpecialty.code, ListingSpecialty.is_primary)
        .where(ListingSpecialty.listing_id == listing_id).order_by(ListingSpecialty.code)
    ).all()
    networks = session.execute(
        select(Participation.network_id).where(Participation.listing_id == listing_id)
        .order_by(Participation.network_id)
    ).scalars().all()
    locations = session.execute(
        select(Location.address, Location.city, Location.state, Location.zip, Location.phone, Location.fax)
        .where(Location.listing_id == listing_id).order_by(Location.id)
    ).all()
    return {
        "specialties": [f"{code}{' (primary)' if primary else ''}" for code, primary in specialties],
        "networks": list(networks),
        "locations": [", ".join(part or "" for part in row) for row in locations],
    }


def create_listing(session: Session, data: ListingInput, actor: str) -> Listing:
    """Add a listing with its places, specialties and networks; audit and queue the index change."""
    if errors := validate(session, data) | _location_id_errors(session, None, data.locations):
        raise ValidationError(errors)
    if session.execute(select(Listing.id).where(Listing.npi == data.npi)).first():
        raise ValidationError({"npi": f"a listing with NPI {data.npi} already exists"})
    listing = Listing(**_listing_values(data), source=data.source)
    session.add(listing)
    session.flush()
    _write_children(session, listing, data, actor)
    session.add(AuditEntry(actor=actor, listing_id=listing.id, action="create",
                           changes={k: [None, v] for k, v in asdict(data).items()}))
    record_change(session, listing.id)
    session.flush()
    return listing


def affiliated_practitioners(session: Session, organization_id: int) -> set[int]:
    """Practitioners whose search documents show this organization (its name, its places)."""
    return set(session.execute(
        select(Role.practitioner_id).join(Location, Location.id == Role.location_id)
        .where((Location.listing_id == organization_id) | (Role.organization_id == organization_id))
    ).scalars())


def update_listing(session: Session, listing_id: int, data: ListingInput, actor: str,
                   expected_version: int | None = None) -> Listing:
    """Replace a listing's fields and children; refuses if `expected_version` is out of date."""
    listing = claim_listing(session, listing_id, expected_version)
    if errors := validate(session, data) | _location_id_errors(session, listing_id, data.locations):
        raise ValidationError(errors)
    clash = session.execute(
        select(Listing.id).where(Listing.npi == data.npi, Listing.id != listing_id)
    ).first()
    if clash:
        raise ValidationError({"npi": f"a listing with NPI {data.npi} already exists"})
    before = {k: getattr(listing, k) for k in _listing_values(data)} | _children(session, listing_id)
    for key, value in _listing_values(data).items():
        setattr(listing, key, value)
    listing.version += 1
    listing.updated_at = utcnow()
    affected = affiliated_practitioners(session, listing_id)
    _write_children(session, listing, data, actor)
    session.flush()
    after = _listing_values(data) | _children(session, listing_id)
    changes = {k: [before[k], v] for k, v in after.items() if before[k] != v}
    session.add(AuditEntry(actor=actor, listing_id=listing_id, action="update", changes=changes))
    record_change(session, listing_id)
    for practitioner_id in sorted(affected):
        record_change(session, practitioner_id)
    session.flush()
    return listing


def set_active(session: Session, listing_id: int, active: bool, actor: str,
               expected_version: int | None = None) -> Listing:
    """Deactivate (soft delete, hidden from search) or restore a listing."""
    listing = claim_listing(session, listing_id, expected_version)
    if listing.active != active:
        listing.active = active
        listing.version += 1
        listing.updated_at = utcnow()
        session.add(AuditEntry(actor=actor, listing_id=listing_id,
                               action="restore" if active else "deactivate",
                               changes={"active": [not active, active]}))
        record_change(session, listing_id)
        session.flush()
    return listing


def delete_listing(session: Session, listing_id: int, actor: str) -> None:
    """Remove a listing and everything that hangs off it (cascading foreign keys)."""
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise LookupError(f"no listing {listing_id}")
    session.add(AuditEntry(actor=actor, listing_id=listing_id, action="delete",
                           changes={"name": [listing.name, None], "npi": [listing.npi, None]}))
    affected = affiliated_practitioners(session, listing_id)
    session.delete(listing)
    record_change(session, listing_id)
    for practitioner_id in sorted(affected):
        record_change(session, practitioner_id)
    session.flush()
