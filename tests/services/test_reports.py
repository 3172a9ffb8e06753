"""Problem reports' rate limits: nobody can stop other people's reports about a listing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from directory.models import ProblemReport
from directory.services import reports


def report(session, listing_id: int, client_key: str, now) -> None:
    reports.file_report(session, listing_id=listing_id, problem="other", details="Not what the page says",
                        contact=None, client_key=client_key, now=now)
    session.commit()


def stored(session) -> int:
    return session.execute(select(func.count()).select_from(ProblemReport)).scalar_one()


def test_one_client_cannot_silence_reports_about_a_listing(factory, session):
    """A stranger sends reports about one listing all day (within the hourly limit); someone else's
    report about it is still taken."""
    listing = factory.listing(sync=False)
    now = reports.utcnow()
    for i in range(reports.PER_LISTING_PER_DAY + 4):
        try:
            report(session, listing.id, "stranger", now - timedelta(hours=23) + timedelta(minutes=13 * i))
        except reports.RateLimited:
            session.rollback()
    report(session, listing.id, "patient", now)
    assert session.execute(select(ProblemReport.client_key).order_by(ProblemReport.id.desc())).scalars().first() \
        == "patient"


def test_one_client_reports_one_listing_a_few_times_a_day(factory, session):
    listing, other = factory.listing(sync=False), factory.listing(name="Other Infusion", zip="02116", sync=False)
    now = reports.utcnow()
    for i in reversed(range(reports.PER_CLIENT_PER_LISTING_PER_DAY)):  # oldest first, two hours apart
        report(session, listing.id, "a", now - timedelta(hours=2 * i))
    with pytest.raises(reports.RateLimited, match="this listing"):
        report(session, listing.id, "a", now)
    session.rollback()
    report(session, other.id, "a", now)
    report(session, listing.id, "a", now + timedelta(days=1))
    assert stored(session) == reports.PER_CLIENT_PER_LISTING_PER_DAY + 2


def test_an_ipv6_client_is_its_64_network():
    """One subscriber gets a whole /64 and can use any address in it: all of them are one client."""
    key = reports.client_key("2001:db8:1:2::1", "salt")
    assert reports.client_key("2001:db8:1:2:ffff:abcd:1234:5678", "salt") == key
    assert reports.client_key("2001:db8:1:3::1", "salt") != key
    assert reports.client_key("192.0.2.1", "salt") != reports.client_key("192.0.2.2", "salt")
    assert reports.client_key("::ffff:192.0.2.1", "salt") == reports.client_key("192.0.2.1", "salt")
    assert reports.client_key(None, "salt") == reports.client_key("unknown", "salt") != key
