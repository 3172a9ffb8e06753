"""The geocode queue's work, in the caller's transaction: claim rows, place a location at the point
a geocoder gave (`place_location`), reject an answer the sanity rules refuse (`reject_location`),
or put a row off after a network error (`defer_task`). Placing is a listing change like any other:
audited, and the listing's search document and card (and those of practitioners who practise
there) rewritten through the outbox.

Several workers may work one queue: `claim_tasks` marks rows with the worker's name in one UPDATE
(PostgreSQL: of rows locked with SKIP LOCKED; SQLite: under its single writer lock), so no two
workers hold the same row. A claim older than `reclaim_after`, or of a worker named in `dead`
(one on this machine whose process has ended), is taken again. Placing or rejecting checks that the
row still holds the address the worker geocoded: an edit meanwhile queued the new one instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlmodel import Session

import directory.audit  # noqa: F401  (importing it keeps audit entries append-only)
from directory.geocoding.addresses import location_hash
from directory.models import AuditEntry, GeocodeTask, Listing, Location, Role, utcnow
from directory.search.sync import record_change
from directory.services.listings import claim_listing

MAX_ATTEMPTS = 8  # network errors before a row is failed (`geocode --retry-failed` queues it again)


@dataclass(frozen=True)
class Claim:
    location_id: int
    address_hash: str


def claim_tasks(session: Session, worker: str, *, limit: int, reclaim_after: timedelta,
                dead: list[str] = (), now: datetime | None = None) -> list[Claim]:
    """Claim up to `limit` due pending rows for `worker` (oldest due first) and commit the claim."""
    now = now or utcnow()
    claimable = or_(GeocodeTask.claimed_by.is_(None), GeocodeTask.claimed_at < now - reclaim_after,
                    *([GeocodeTask.claimed_by.in_(list(dead))] if dead else []))
    due = (select(GeocodeTask.location_id)
           .where(GeocodeTask.state == "pending", GeocodeTask.next_attempt_at <= now, claimable)
           .order_by(GeocodeTask.next_attempt_at, GeocodeTask.location_id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    rows = session.execute(
        update(GeocodeTask).where(GeocodeTask.location_id.in_(due.scalar_subquery()), GeocodeTask.state == "pending",
                                  claimable)
        .values(claimed_by=worker, claimed_at=now)
        .returning(GeocodeTask.location_id, GeocodeTask.address_hash)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return sorted((Claim(lid, digest) for lid, digest in rows), key=lambda claim: claim.location_id)


def release_claims(session: Session, worker: str) -> int:
    """Give back the pending rows `worker` holds (on Ctrl-C); returns how many."""
    released = session.execute(update(GeocodeTask).where(GeocodeTask.claimed_by == worker,
                                                         GeocodeTask.state == "pending")
                               .values(claimed_by=None, claimed_at=None)
                               .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return released


def claimants(session: Session) -> list[str]:
    """The workers holding pending rows now."""
    return list(session.execute(select(GeocodeTask.claimed_by).where(
        GeocodeTask.state == "pending", GeocodeTask.claimed_by.is_not(None)).distinct()).scalars())


def _held(session: Session, claim: Claim, worker: str) -> tuple[GeocodeTask, Location] | None:
    """The claimed row and its location, if the row still holds the address claimed, for `worker`."""
    location = session.get(Location, claim.location_id)
    if location is None:
        return None
    claim_listing(session, location.listing_id)  # edits of this listing wait for us, and we for them
    task = session.get(GeocodeTask, claim.location_id, populate_existing=True)
    session.refresh(location)
    if (task is None or task.state != "pending" or task.claimed_by != worker or task.address_hash != claim.address_hash
            or location_hash(location) != claim.address_hash):
        return None
    return task, location


def _finish(task: GeocodeTask, state: str, error: str | None = None) -> None:
    task.state, task.last_error, task.claimed_by, task.claimed_at = state, error, None, None
    task.attempts += 1
    task.updated_at = utcnow()


def practitioners_at(session: Session, location_id: int) -> list[int]:
    """Practitioners with a role at the location (their documents show its place)."""
    return sorted(set(session.execute(select(Role.practitioner_id).where(Role.location_id == location_id)).scalars()))


def place_location(session: Session, claim: Claim, *, worker: str, lat: float, lon: float, geocoder: str,
                   quality: str | None, actor: str) -> bool:
    """Move a claimed location to the point (degrees) `geocoder` found for its address; audited and
    queued for the index. False, writing nothing, when the row no longer holds that address."""
    held = _held(session, claim, worker)
    if held is None:
        return False
    task, location = held
    now = utcnow()
    values = {"lat": lat, "lon": lon, "geo_source": "geocoder", "geocoder": geocoder, "geo_quality": quality,
              "geocoded_at": now, "address_hash": claim.address_hash}
    changes = {f"locations.{location.id}.{name}": [_plain(getattr(location, name)), _plain(value)]
               for name, value in values.items() if getattr(location, name) != value}
    for name, value in values.items():
        setattr(location, name, value)
    session.get(Listing, location.listing_id).updated_at = now
    _finish(task, "done")
    session.add(AuditEntry(actor=actor, listing_id=location.listing_id, action="geocode.place", changes=changes))
    record_change(session, location.listing_id)
    for practitioner_id in practitioners_at(session, location.id):
        record_change(session, practitioner_id)
    session.flush()
    return True


def reject_location(session: Session, claim: Claim, *, worker: str, reason: str, actor: str) -> bool:
    """Leave a claimed location at its ZIP centroid because the geocoder's answer was refused
    (`reason`); it then appears in the staff verification queue. Audited. False when the row no
    longer holds that address."""
    held = _held(session, claim, worker)
    if held is None:
        return False
    task, location = held
    _finish(task, "rejected", reason)
    session.add(AuditEntry(actor=actor, listing_id=location.listing_id, action="geocode.reject", changes={
        f"locations.{location.id}.address": [None, _one_line(location)], "reason": [None, reason]}))
    session.flush()
    return True


def defer_task(session: Session, claim: Claim, *, worker: str, error: str, retry_after: float | None,
               permanent: bool = False) -> str:
    """Put a claimed row off after a failed call: pending again after a backoff (or the `retry_after`
    seconds the geocoder asked), or failed after MAX_ATTEMPTS (at once if `permanent`). Returns the
    row's state; the queue never loses it."""
    task = session.get(GeocodeTask, claim.location_id, populate_existing=True)
    if task is None or task.claimed_by != worker or task.state != "pending":
        return "gone"
    task.attempts += 1
    task.last_error = error[:500]
    task.claimed_by = task.claimed_at = None
    task.updated_at = utcnow()
    if permanent or task.attempts >= MAX_ATTEMPTS:
        task.state = "failed"
    else:
        wait = retry_after if retry_after is not None else min(3600.0, 30.0 * 2 ** (task.attempts - 1))
        task.next_attempt_at = task.updated_at + timedelta(seconds=max(0.0, wait))
    session.flush()
    return task.state


def known_point(session: Session, address_hash: str, geocoder: str) -> Location | None:
    """A location `geocoder` placed at this very address already (another listing's, or before a
    restore): its answer is reused rather than asking again."""
    return session.execute(select(Location).where(Location.address_hash == address_hash,
                                                  Location.geo_source == "geocoder", Location.geocoder == geocoder)
                           .limit(1)).scalar_one_or_none()


def retry(session: Session, state: str) -> int:
    """Queue every `state` ('failed' or 'rejected') row again; returns how many."""
    count = session.execute(update(GeocodeTask).where(GeocodeTask.state == state).values(
        state="pending", attempts=0, next_attempt_at=utcnow(), claimed_by=None, claimed_at=None,
        updated_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    session.flush()
    return count


@dataclass(frozen=True)
class Unplaced:
    """A location the geocoder's answer could not place, as the staff queue lists it."""

    location_id: int
    listing_id: int
    listing_name: str
    address: str
    reason: str
    when: datetime


def unplaced(session: Session, *, limit: int = 50, offset: int = 0) -> list[Unplaced]:
    """Active listings' locations whose geocoding was rejected, most recent first."""
    rows = session.execute(
        select(Location, Listing.name, GeocodeTask.last_error, GeocodeTask.updated_at)
        .join(GeocodeTask, GeocodeTask.location_id == Location.id).join(Listing, Listing.id == Location.listing_id)
        .where(GeocodeTask.state == "rejected", Listing.active.is_(True))
        .order_by(GeocodeTask.updated_at.desc(), Location.id).limit(limit).offset(offset)
    ).all()
    return [Unplaced(location_id=loc.id, listing_id=loc.listing_id, listing_name=name, address=_one_line(loc),
                     reason=reason or "", when=when) for loc, name, reason, when in rows]


def _one_line(location: Location) -> str:
    return f"{location.address}, {location.city}, {location.state} {location.zip}"


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value
