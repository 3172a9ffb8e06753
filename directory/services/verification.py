"""Re-verifying listings: record a verification, the queue of listings due for one, and the counts.

A listing is overdue when it was never verified or last verified more than `STALE_AFTER_DAYS` (90)
days ago, as `directory.read.hydrate.is_stale` says; it is due soon in the `DUE_SOON_DAYS` (14) days
before that. Callers pass a session and commit it, like `directory.listings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, case, exists, func, or_, select, union
from sqlmodel import Session

import directory.audit  # noqa: F401  (importing it keeps audit entries append-only)
from directory.models import (
    STALE_AFTER_DAYS,
    AuditEntry,
    Listing,
    Location,
    NetworkClaim,
    Participation,
    ProblemReport,
    Role,
    utcnow,
)
from directory.search.sync import record_change
from directory.services.errors import ValidationError
from directory.services.listings import claim_listing

METHODS = ("phone", "email", "attestation", "nppes")
DUE_SOON_DAYS = 14
STATUSES = ("never", "overdue", "due_soon", "reported", "networks_ended")


@dataclass(frozen=True)
class QueueItem:
    listing_id: int
    name: str
    kind: str
    states: list[str]
    last_verified: date | None
    days_since: int | None
    status: str
    open_reports: int


def _cutoffs(today: date) -> tuple[date, date]:
    """(overdue_before, due_from): overdue if last_verified < the first, due soon if <= the second."""
    overdue_before = today - timedelta(days=STALE_AFTER_DAYS)
    due_from = today - timedelta(days=STALE_AFTER_DAYS - DUE_SOON_DAYS + 1)
    return overdue_before, due_from


def verify_listing(session: Session, listing_id: int, *, by: str, method: str, changed: bool,
                   on: date | None = None, expected_version: int | None = None,
                   resolve_reports: bool = False) -> Listing:
    """Record that staff checked a listing on `on` (default today) by `method`: "verified, no change"
    or, with `changed`, "verified with changes" (the edits themselves go through
    `directory.listings.update_listing` first). With `resolve_reports`, its open problem reports are
    resolved in the same transaction. Raises LookupError, ValidationError or StaleVersion."""
    if method not in METHODS:
        raise ValidationError({"method": f"method must be one of {', '.join(METHODS)}"})
    listing = claim_listing(session, listing_id, expected_version, verb="verified")
    on = on or date.today()
    now = utcnow()
    changes = {
        "last_verified": [listing.last_verified.isoformat() if listing.last_verified else None, on.isoformat()],
        "verified_by": [listing.verified_by, by],
        "verification_method": [listing.verification_method, method],
    }
    changes = {field: pair for field, pair in changes.items() if pair[0] != pair[1]}
    listing.last_verified, listing.verified_by, listing.verification_method = on, by, method
    listing.version += 1
    listing.updated_at = now
    if resolve_reports:
        reports = session.execute(
            select(ProblemReport).where(ProblemReport.listing_id == listing_id, ProblemReport.status == "open")
            .order_by(ProblemReport.id)
        ).scalars().all()
        for report in reports:
            report.status, report.resolved_at, report.resolved_by = "resolved", now, by
        if reports:
            changes["resolved_reports"] = [None, [report.id for report in reports]]
    session.add(AuditEntry(actor=by, listing_id=listing_id, at=now,
                           action="verify.changed" if changed else "verify.no_change", changes=changes))
    record_change(session, listing_id)  # last_verified shows in search results
    session.flush()
    return listing


def _open_reports(listing_id):
    return (select(func.count()).select_from(ProblemReport)
            .where(ProblemReport.listing_id == listing_id, ProblemReport.status == "open")
            .scalar_subquery())


def _in_state(state: str):
    """Any place of the listing in `state`: its own locations or, for a practitioner, its roles'."""
    own = exists().where(Location.listing_id == Listing.id, Location.state == state)
    via_role = exists().where(Role.practitioner_id == Listing.id, Role.location_id == Location.id,
                              Location.state == state)
    return or_(own, via_role)


def _states(session: Session, ids: list[int]) -> dict[int, list[str]]:
    own = select(Location.listing_id, Location.state).where(Location.listing_id.in_(ids))
    via_role = (select(Role.practitioner_id, Location.state)
                .join(Location, Location.id == Role.location_id).where(Role.practitioner_id.in_(ids)))
    found: dict[int, set[str]] = {lid: set() for lid in ids}
    for lid, state in session.execute(union(own, via_role)).all():
        found[lid].add(state)
    return {lid: sorted(states) for lid, states in found.items()}


def _networks_ended():
    """Listings a harvest source had in its networks whose every participation has ended (issue 17)."""
    return (select(NetworkClaim.listing_id).distinct().where(NetworkClaim.ended_at.is_not(None))
            .where(~exists().where(Participation.listing_id == NetworkClaim.listing_id)))


def queue(session: Session, *, today: date | None = None, state: str | None = None, kind: str | None = None,
          limit: int = 50, offset: int = 0) -> list[QueueItem]:
    """Active listings to verify, oldest first (never verified, then by last_verified, then id):
    never verified, overdue, due soon, with open problem reports, or out of every network a harvest
    source had them in (status "networks_ended", shown before the others). `state` keeps listings with any
    place in that state; `kind` is organization or practitioner."""
    today = today or date.today()
    overdue_before, due_from = _cutoffs(today)
    filters = [Listing.active.is_(True)]
    if kind is not None:
        filters.append(Listing.kind == kind)
    if state is not None:
        filters.append(_in_state(state.upper()))
    oldest_first = (Listing.last_verified.asc().nulls_first(), Listing.id)
    # Candidates: the first offset+limit due listings, which are a prefix of the (last_verified, id)
    # order, so an index on those columns is walked in order and left early; plus every listing with
    # an open report, found through the report status index. Only the candidates are sorted.
    due = (select(Listing.id)
           .where(*filters, or_(Listing.last_verified.is_(None), Listing.last_verified <= due_from))
           .order_by(*oldest_first).limit(offset + limit).subquery())
    reported = select(ProblemReport.listing_id).where(ProblemReport.status == "open")
    ended = set(session.execute(_networks_ended()).scalars())
    candidates = union(select(due.c.id), reported, _networks_ended()).subquery()
    query = (
        select(Listing.id, Listing.name, Listing.kind, Listing.last_verified, _open_reports(Listing.id))
        .where(Listing.id.in_(select(candidates.c[0])), *filters)
        .order_by(*oldest_first).limit(limit).offset(offset)
    )
    rows = session.execute(query).all()
    states = _states(session, [row[0] for row in rows]) if rows else {}
    items = []
    for lid, name, listing_kind, last_verified, reports in rows:
        if lid in ended:
            status = "networks_ended"
        elif last_verified is None:
            status = "never"
        elif last_verified < overdue_before:
            status = "overdue"
        elif last_verified <= due_from:
            status = "due_soon"
        else:
            status = "reported"
        items.append(QueueItem(
            listing_id=lid, name=name, kind=listing_kind, states=states[lid], last_verified=last_verified,
            days_since=None if last_verified is None else (today - last_verified).days,
            status=status, open_reports=reports,
        ))
    return items


def dashboard_counts(session: Session, today: date | None = None) -> dict[str, int]:
    """Counts over active listings: verified within 90 days (due-soon ones included), due soon (overdue
    within the next 14 days), overdue (over 90 days), never verified, open problem reports about
    active listings, and all active listings."""
    today = today or date.today()
    overdue_before, due_from = _cutoffs(today)
    verified = Listing.last_verified

    def tally(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = session.execute(
        select(
            tally(verified >= overdue_before),
            tally(and_(verified >= overdue_before, verified <= due_from)),
            tally(verified < overdue_before),
            tally(verified.is_(None)),
            func.count(),
        ).select_from(Listing).where(Listing.active.is_(True))
    ).one()
    open_reports = session.execute(
        select(func.count()).select_from(ProblemReport)
        .join(Listing, Listing.id == ProblemReport.listing_id)
        .where(ProblemReport.status == "open", Listing.active.is_(True))
    ).scalar_one()
    return {
        "verified_within_90_days": int(row[0]),
        "due_soon": int(row[1]),
        "overdue": int(row[2]),
        "never_verified": int(row[3]),
        "open_reports": open_reports,
        "total_active": row[4],
    }

