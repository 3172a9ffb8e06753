"""Writes that the listing service does not offer, for imports that restore a directory exactly.

Same rules as `directory.listings`: change rows, write an audit entry, record the index change, all
in the caller's transaction. Used by `directory.importers` (import-jsonl, and the template's
`practices_at` column):

- `save_listing`: `create_listing` / `update_listing`, also for a practitioner who practises only at
  organizations' locations and has no location of its own (which `listings.validate` refuses today);
- `add_own_role`: a role at one of the practitioner's own locations (`roles.add_role` takes
  organizations' locations only; the demo data and older data have such roles);
- `set_participation`: a listing's network participation with its start and end dates;
- `restore_fields`: record fields no form edits (verification, demo flag, version and times, the
  kind-specific extras, coordinates and their source).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

from sqlalchemy import select
from sqlmodel import Session

from directory import listings
from directory.listings import ListingInput, ValidationError, create_listing, update_listing, validate
from directory.models import (
    AuditEntry,
    Listing,
    Location,
    Organization,
    Participation,
    Practitioner,
    Role,
    utcnow,
)
from directory.search.sync import record_change

NO_LOCATION = "locations"


def _roles_only(data: ListingInput) -> bool:
    return data.kind == "practitioner" and not data.locations


def listing_errors(session: Session, data: ListingInput) -> dict[str, str]:
    """`listings.validate`, except that a practitioner may have no location of its own."""
    errors = validate(session, data)
    if _roles_only(data):
        errors.pop(NO_LOCATION, None)
    return errors


def save_listing(session: Session, listing_id: int | None, data: ListingInput, actor: str) -> Listing:
    """Create (`listing_id` None) or update a listing through the service; a practitioner with no
    location of its own is written with the service's own steps, since its validation refuses it."""
    if not _roles_only(data):
        if listing_id is None:
            return create_listing(session, data, actor)
        return update_listing(session, listing_id, data, actor)
    if errors := listing_errors(session, data):
        raise ValidationError(errors)
    if listing_id is None:
        if session.execute(select(Listing.id).where(Listing.npi == data.npi)).first():
            raise ValidationError({"npi": f"a listing with NPI {data.npi} already exists"})
        listing = Listing(**listings._listing_values(data), source=data.source)
        session.add(listing)
        session.flush()
        listings._write_children(session, listing, data, actor)
        session.add(AuditEntry(actor=actor, listing_id=listing.id, action="create",
                               changes={k: [None, v] for k, v in asdict(data).items()}))
        record_change(session, listing.id)
        session.flush()
        return listing
    listing = session.get(Listing, listing_id)
    before = {k: getattr(listing, k) for k in listings._listing_values(data)} | listings._children(session, listing_id)
    for key, value in listings._listing_values(data).items():
        setattr(listing, key, value)
    listing.version += 1
    listing.updated_at = utcnow()
    listings._write_children(session, listing, data, actor)
    session.flush()
    after = listings._listing_values(data) | listings._children(session, listing_id)
    session.add(AuditEntry(actor=actor, listing_id=listing_id, action="update",
                           changes={k: [before[k], v] for k, v in after.items() if before[k] != v}))
    record_change(session, listing_id)
    session.flush()
    return listing


def add_own_role(session: Session, *, practitioner_id: int, location_id: int, specialty_code: str | None,
                 accepting_new_patients: bool, telehealth: bool, actor: str) -> Role:
    """A role at one of the practitioner's own locations (no organization)."""
    location = session.get(Location, location_id)
    if location is None or location.listing_id != practitioner_id:
        raise ValidationError({"location_id": f"location {location_id} is not one of this practitioner's"})
    if session.execute(select(Role.id).where(Role.practitioner_id == practitioner_id,
                                             Role.location_id == location_id)).first():
        raise ValidationError({"location_id": "this practitioner already has a role at this location"})
    role = Role(practitioner_id=practitioner_id, organization_id=None, location_id=location_id,
                specialty_code=specialty_code or None, accepting_new_patients=bool(accepting_new_patients),
                telehealth=bool(telehealth))
    session.add(role)
    session.flush()
    session.add(AuditEntry(actor=actor, listing_id=practitioner_id, action="role.add", changes={
        "role": [None, {"id": role.id, "organization_id": None, "location_id": location_id,
                        "specialty_code": role.specialty_code, "accepting_new_patients": role.accepting_new_patients,
                        "telehealth": role.telehealth}],
    }))
    record_change(session, practitioner_id)
    session.flush()
    return role


def set_participation(session: Session, listing_id: int, dates: dict[int, tuple[date | None, date | None]],
                      actor: str) -> bool:
    """Make the listing's networks exactly `dates`' keys, each with its (start, end); True if changed."""
    held = {p.network_id: p for p in session.execute(
        select(Participation).where(Participation.listing_id == listing_id)).scalars()}
    changes = {}
    for network_id in sorted(set(held) - set(dates)):
        changes[str(network_id)] = [[str(held[network_id].start_date), str(held[network_id].end_date)], None]
        session.delete(held[network_id])
    for network_id, (start, end) in sorted(dates.items()):
        row = held.get(network_id)
        if row is None:
            session.add(Participation(listing_id=listing_id, network_id=network_id, start_date=start, end_date=end))
            changes[str(network_id)] = [None, [str(start), str(end)]]
        elif (row.start_date, row.end_date) != (start, end):
            changes[str(network_id)] = [[str(row.start_date), str(row.end_date)], [str(start), str(end)]]
            row.start_date, row.end_date = start, end
    if not changes:
        return False
    session.add(AuditEntry(actor=actor, listing_id=listing_id, action="participation", changes=changes))
    record_change(session, listing_id)
    session.flush()
    return True


LISTING_FIELDS = ("is_demo", "last_verified", "verified_by", "verification_method", "version", "created_at",
                  "updated_at")
ORGANIZATION_FIELDS = ("chairs", "pediatric", "prior_auth_help")
PRACTITIONER_FIELDS = ("gender",)
LOCATION_FIELDS = ("lat", "lon", "geo_source")


def _set(row, values: dict, names: tuple[str, ...], changes: dict, prefix: str = "") -> None:
    for name in names:
        if name in values and getattr(row, name) != values[name]:
            changes[prefix + name] = [_plain(getattr(row, name)), _plain(values[name])]
            setattr(row, name, values[name])


def _plain(value):
    return value.isoformat() if isinstance(value, date | datetime) else value


def restore_fields(session: Session, listing_id: int, values: dict, locations: dict[int, dict],
                   actor: str) -> bool:
    """Set the listing's record fields (`LISTING_FIELDS`, and the organization's or practitioner's
    extras) from `values`, and each location's coordinates and their source from `locations` (by
    location id); audited as one "restore" entry. True if anything changed."""
    listing = session.get(Listing, listing_id)
    changes: dict = {}
    _set(listing, values, LISTING_FIELDS, changes)
    extra = session.get(Organization if listing.kind == "organization" else Practitioner, listing_id)
    if extra is not None:
        _set(extra, values, ORGANIZATION_FIELDS if listing.kind == "organization" else PRACTITIONER_FIELDS, changes)
    for location_id, coordinates in sorted(locations.items()):
        location = session.get(Location, location_id)
        if location is not None and location.listing_id == listing_id:
            _set(location, coordinates, LOCATION_FIELDS, changes, prefix=f"locations.{location_id}.")
    if not changes:
        return False
    session.add(AuditEntry(actor=actor, listing_id=listing_id, action="restore", changes=changes))
    record_change(session, listing_id)
    session.flush()
    return True
