"""Problem reports from the public ("this phone number is wrong"): validate, rate-limit, store, audit.

Rate limits live in the database, so they hold across several web workers. A client (a hashed
remote address; for IPv6 its /64 network) may send at most `PER_CLIENT_PER_HOUR` (5) reports an hour, and at most
`PER_CLIENT_PER_LISTING_PER_DAY` (6) about one listing in a day; a listing takes at most
`PER_LISTING_PER_DAY` (20) reports a day. Because one client's share of a listing's daily limit is
capped, one stranger cannot use it all up and silence other people's reports about the listing.
Reports that could count towards the same limits take turns (see `_serialize`). Callers pass a
session and commit it, like `directory.listings`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlmodel import Session

from directory.models import PROBLEM_CODES, AuditEntry, Listing, ProblemReport, utcnow
from directory.services.errors import ValidationError

# Code -> what the form shows; the order is the order of the options.
PROBLEMS = {
    "wrong_phone": "Wrong phone or fax number",
    "wrong_address": "Wrong address",
    "not_in_network": "Not in this insurance network",
    "not_accepting": "Not accepting new patients",
    "no_ivig": "Does not offer IVIG",
    "closed": "Closed or moved",
    "other": "Something else",
}
if tuple(PROBLEMS) != PROBLEM_CODES:  # the table's CHECK constraint lists the same codes
    raise RuntimeError("reports.PROBLEMS and models.PROBLEM_CODES disagree")

DETAILS_MIN, DETAILS_MAX = 5, 2000
CONTACT_MAX = 254
PER_CLIENT_PER_HOUR = 5
PER_CLIENT_PER_LISTING_PER_DAY = 6  # well under PER_LISTING_PER_DAY
PER_LISTING_PER_DAY = 20
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class RateLimited(Exception):
    """Too many reports from one client, or about one listing; `message` says what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def client_key(address: str | None, salt: str) -> str:
    """A salted SHA-256 (HMAC) of the remote address: the same client gets the same key, and the
    address itself cannot be read back from it. An IPv6 client is its /64 network, since one
    subscriber may use any address in it (an IPv4-mapped address counts as the IPv4 one)."""
    return hmac.new(salt.encode(), _client(address).encode(), hashlib.sha256).hexdigest()


def _client(address: str | None) -> str:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def validate(problem: str | None, details: str | None, contact: str | None) -> dict[str, str]:
    """Every problem with the form, by field; empty when it can be stored."""
    errors: dict[str, str] = {}
    if problem not in PROBLEMS:
        errors["problem"] = "Choose what is wrong with this listing."
    details = (details or "").strip()
    if len(details) < DETAILS_MIN:
        errors["details"] = f"Tell us what is wrong in at least {DETAILS_MIN} characters."
    elif len(details) > DETAILS_MAX:
        errors["details"] = f"Please keep the details under {DETAILS_MAX} characters (you wrote {len(details)})."
    contact = (contact or "").strip()
    if contact and (len(contact) > CONTACT_MAX or not _EMAIL.match(contact)):
        errors["contact"] = "Enter an email address like name@example.com, or leave this empty."
    return errors


def _serialize(session: Session, *keys: str) -> None:
    """Make concurrent reports with these keys take turns until commit. SQLite already does: the
    report is inserted before counting, and SQLite lets one writer at a time hold the database."""
    if session.get_bind().dialect.name == "postgresql":
        for key in sorted(keys):
            session.execute(text("select pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def _count(session: Session, *where) -> int:
    return session.execute(select(func.count()).select_from(ProblemReport).where(*where)).scalar_one()


def _limit_message(session: Session, *, listing_id: int, client_key: str, now: datetime) -> str | None:
    """Why this client's report (already flushed) is over a limit, or None."""
    day_ago = now - timedelta(days=1)
    if _count(session, ProblemReport.client_key == client_key,
              ProblemReport.created_at > now - timedelta(hours=1)) > PER_CLIENT_PER_HOUR:
        return (f"You have sent {PER_CLIENT_PER_HOUR} reports in the last hour, our limit. "
                "Please try again later.")
    if _count(session, ProblemReport.client_key == client_key, ProblemReport.listing_id == listing_id,
              ProblemReport.created_at > day_ago) > PER_CLIENT_PER_LISTING_PER_DAY:
        return (f"You have sent {PER_CLIENT_PER_LISTING_PER_DAY} reports about this listing today, our "
                "limit, and our staff will review them. Please try again tomorrow if the problem remains.")
    if _count(session, ProblemReport.listing_id == listing_id,
              ProblemReport.created_at > day_ago) > PER_LISTING_PER_DAY:
        return ("This listing has already been reported many times today and our staff "
                "will review it. Please try again tomorrow if the problem remains.")
    return None


def file_report(session: Session, *, listing_id: int, problem: str | None, details: str | None,
                contact: str | None, client_key: str, now: datetime | None = None) -> ProblemReport:
    """Store an open report about an active listing, with an audit entry, in the caller's transaction.

    Raises LookupError (no such active listing), ValidationError (field -> message) or RateLimited;
    on any of them the session holds no new rows.
    """
    listing = session.get(Listing, listing_id)
    if listing is None or not listing.active:
        raise LookupError(f"no listing {listing_id}")
    if errors := validate(problem, details, contact):
        raise ValidationError(errors)
    now = now or utcnow()
    _serialize(session, f"report-client:{client_key}", f"report-listing:{listing_id}")
    report = ProblemReport(listing_id=listing_id, problem=problem, details=details.strip(),
                           contact=(contact or "").strip() or None, created_at=now, client_key=client_key)
    session.add(report)
    session.flush()  # take the write lock first, then count with this report included
    if message := _limit_message(session, listing_id=listing_id, client_key=client_key, now=now):
        session.delete(report)
        session.flush()
        raise RateLimited(message)
    session.add(AuditEntry(actor="public", listing_id=listing_id, action="report", at=now,
                           changes={"problem": [None, problem]}))
    session.flush()
    return report


def open_reports(session: Session, listing_id: int | None = None) -> list[ProblemReport]:
    """Open reports, oldest first (for the staff verification queue)."""
    query = select(ProblemReport).where(ProblemReport.status == "open")
    if listing_id is not None:
        query = query.where(ProblemReport.listing_id == listing_id)
    return list(session.execute(query.order_by(ProblemReport.created_at, ProblemReport.id)).scalars())
