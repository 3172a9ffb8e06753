"""Writes that the listing service does not offer, for imports that restore a directory exactly.

Same rules as `directory.listings`: change rows, write an audit entry, record the index change, all
in the caller's transaction. Used by `directory.importers` (import-jsonl, and the template's
`practices_at` column):

- `save_listing`: `create_listing` or `update_listing`, by whether the listing is stored;
- `set_participation`: a listing's network participation with its start and end dates;
- `restore_fields`: record fields no form edits (verification, demo flag, version and times, the
  kind-specific extras, coordinates and their source, with the geocoder's name, match quality,
  time and the hash of the address it placed).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlmodel import Session

from directory.models import (
    AuditEntry,
    Listing,
    Location,
    Organization,
    Participation,
    Practitioner,
)
from directory.search.sync import record_change
from directory.services.geocode_queue import settle_restored
from directory.services.listings import ListingInput, create_listing, update_listing


def save_listing(session: Session, listing_id: int | None, data: ListingInput, actor: str) -> Listing:
    """Create (`listing_id` None) or update a listing through the listing service."""
    if listing_id is None:
        return create_listing(session, data, actor)
    return update_listing(session, listing_id, data, actor)


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
LOCATION_FIELDS = ("lat", "lon", "geo_source", "geocoder", "geo_quality", "geocoded_at", "address_hash")


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
            settle_restored(session, location)  # its own address's geocoded point: not queued again
    if not changes:
        return False
    session.add(AuditEntry(actor=actor, listing_id=listing_id, action="restore", changes=changes))
    record_change(session, listing_id)
    session.flush()
    return True
