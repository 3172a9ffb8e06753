"""The geocode queue's write side, in the caller's transaction: a location whose address is new or
changed is queued (`queue_location`), and one restored with the point of its own address is not
(`settle_restored`). The listing service calls these; `directory.services.geocoding` works the queue.

Locations are queued whatever GEOCODER says: a row costs little, the listing stays usable at its ZIP
centroid, and once a geocoder is configured `flask --app wsgi geocode` places everything that
changed while none was. (Locations written without the service, such as bulk demo data or rows
older than the queue, are queued by that command itself: see `queue_unqueued`.)
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlmodel import Session

from directory.geocoding.addresses import location_hash
from directory.models import GeocodeTask, Location, utcnow

# A location's fields that say where its point came from; kept while its address is unchanged.
PLACEMENT = ("lat", "lon", "geo_source", "geocoder", "geo_quality", "geocoded_at", "address_hash")


def centroid_placement(lat: float, lon: float) -> dict:
    """The placement fields of a location at its ZIP's centroid (lat, lon in degrees)."""
    return {"lat": lat, "lon": lon, "geo_source": "zip_centroid", "geocoder": None, "geo_quality": None,
            "geocoded_at": None, "address_hash": None}


def address_changed(location: Location, values: dict) -> bool:
    """Whether `values` (address, city, state, zip) name another place than the stored location."""
    return location_hash(location) != location_hash(values)


def queue_location(session: Session, location: Location) -> None:
    """Queue the location's current address (a pending row, claim cleared); flushes first if new."""
    if location.id is None:
        session.flush()
    digest = location_hash(location)
    now = utcnow()
    task = session.get(GeocodeTask, location.id)
    if task is None:
        session.add(GeocodeTask(location_id=location.id, address_hash=digest, next_attempt_at=now,
                                created_at=now, updated_at=now))
        return
    task.address_hash, task.state, task.attempts, task.next_attempt_at = digest, "pending", 0, now
    task.last_error = task.claimed_by = task.claimed_at = None
    task.updated_at = now


def queue_locations(session: Session, locations: Iterable[Location]) -> None:
    locations = list(locations)
    if any(location.id is None for location in locations):
        session.flush()
    for location in locations:
        queue_location(session, location)


def settle_restored(session: Session, location: Location) -> None:
    """After import-jsonl restored a location's point: one geocoded for its own address (the hash
    matches) is placed, so its queue row, if any, is done; one restored to its ZIP centroid whose
    row was done is queued again. Otherwise the row stays as it is."""
    task = session.get(GeocodeTask, location.id)
    if location.geo_source == "zip_centroid":
        if task is not None and task.state == "done":
            queue_location(session, location)
        return
    if location.geo_source != "geocoder" or location.address_hash != location_hash(location):
        return
    if task is not None and task.state != "done":
        task.state, task.address_hash, task.claimed_by, task.claimed_at = "done", location.address_hash, None, None
        task.last_error, task.updated_at = None, utcnow()


def queue_unqueued(session: Session, batch_size: int = 2000) -> int:
    """Queue every location at its ZIP centroid that has no queue row (written in bulk, or before
    the queue existed); returns how many. Commits per batch."""
    queued = 0
    while True:
        rows = session.execute(
            select(Location.id, Location.address, Location.city, Location.state, Location.zip)
            .where(Location.geo_source == "zip_centroid",
                   ~select(GeocodeTask.location_id).where(GeocodeTask.location_id == Location.id).exists())
            .order_by(Location.id).limit(batch_size)
        ).all()
        if not rows:
            return queued
        now = utcnow()
        session.add_all(GeocodeTask(location_id=lid, address_hash=location_hash(
            {"address": address, "city": city, "state": state, "zip": zip5}), next_attempt_at=now,
            created_at=now, updated_at=now) for lid, address, city, state, zip5 in rows)
        session.commit()
        queued += len(rows)
