"""Verification: recording a check, the queue of listings due for one, the dashboard and the CLI."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from directory.db import get_engine
from directory.models import AuditEntry, IndexChange, Listing, ProblemReport
from directory.search import get_searcher
from directory.search.sync import apply_pending
from directory.services.errors import StaleVersion, ValidationError
from directory.services.reports import file_report
from directory.services.verification import dashboard_counts, queue, verify_listing
from directory.verification_cli import init_app

TODAY = date(2026, 6, 1)
_clients = iter(range(10_000))


def aged(session, listing, days: int | None) -> Listing:
    """Set last_verified `days` before TODAY (None: never verified), straight on the row."""
    listing.last_verified = None if days is None else TODAY - timedelta(days=days)
    session.add(listing)
    session.commit()
    return listing


def report(session, listing, problem: str = "wrong_phone"):
    filed = file_report(session, listing_id=listing.id, problem=problem, details="The number is wrong",
                        contact=None, client_key=f"client-{next(_clients)}")
    session.commit()
    return filed


@pytest.fixture
def ages(factory, session):
    """One listing per age in days, by name; plus an inactive never-verified listing."""
    made = {}
    for days in (None, 91, 90, 89, 77, 76, 10, 5):
        name = "never" if days is None else f"{days}d"
        made[name] = aged(session, factory.listing(name=name, sync=False), days)
    report(session, made["10d"])
    hidden = factory.listing(name="inactive", sync=False)
    hidden.active = False
    session.add(hidden)
    session.commit()
    return made


def test_queue_is_oldest_first_with_statuses(ages, session):
    items = queue(session, today=TODAY)
    assert [(i.name, i.status) for i in items] == [
        ("never", "never"), ("91d", "overdue"), ("90d", "due_soon"), ("89d", "due_soon"),
        ("77d", "due_soon"), ("10d", "reported"),
    ]
    first, overdue = items[0], items[1]
    assert first.days_since is None and first.last_verified is None
    assert overdue.days_since == 91 and overdue.last_verified == TODAY - timedelta(days=91)
    assert overdue.states == ["MA"] and overdue.kind == "organization"
    assert [i.open_reports for i in items] == [0, 0, 0, 0, 0, 1]


def test_queue_pages_with_limit_and_offset(ages, session):
    names = [i.name for i in queue(session, today=TODAY)]
    assert [i.name for i in queue(session, today=TODAY, limit=2)] == names[:2]
    assert [i.name for i in queue(session, today=TODAY, limit=2, offset=2)] == names[2:4]
    assert [i.name for i in queue(session, today=TODAY, limit=2, offset=5)] == ["10d"]  # the reported one


def test_reported_listings_are_filtered_too(ages, factory, session):
    doctor = aged(session, factory.listing(name="Dr NYC", kind="practitioner", zip="10001", sync=False), 3)
    report(session, doctor)
    assert [i.name for i in queue(session, today=TODAY, state="NY")] == ["Dr NYC"]
    assert [i.name for i in queue(session, today=TODAY, kind="practitioner")] == ["Dr NYC"]
    assert [i.name for i in queue(session, today=TODAY)][-2:] == ["10d", "Dr NYC"]


def test_due_soon_boundary_is_77_days_and_overdue_after_90(factory, session):
    for days in (76, 77, 89, 90, 91):
        aged(session, factory.listing(name=f"{days}d", sync=False), days)
    statuses = {i.name: i.status for i in queue(session, today=TODAY)}
    assert statuses == {"77d": "due_soon", "89d": "due_soon", "90d": "due_soon", "91d": "overdue"}


def test_overdue_listing_with_reports_keeps_its_status_and_counts_them(factory, session):
    listing = aged(session, factory.listing(sync=False), 200)
    report(session, listing)
    report(session, listing, "wrong_address")
    [item] = queue(session, today=TODAY)
    assert (item.status, item.open_reports) == ("overdue", 2)


def test_queue_filters_by_state_and_kind(factory, session):
    boston = aged(session, factory.listing(name="Boston", sync=False), None)
    both = aged(session, factory.listing(name="Boston and NYC", zips=["02115", "10001"], sync=False), 100)
    doctor = aged(session, factory.listing(name="Dr NYC", kind="practitioner", zip="10001", sync=False), 95)
    assert [i.listing_id for i in queue(session, today=TODAY, state="NY")] == [both.id, doctor.id]
    assert [i.listing_id for i in queue(session, today=TODAY, state="ma")] == [boston.id, both.id]
    assert [i.listing_id for i in queue(session, today=TODAY, kind="practitioner")] == [doctor.id]
    assert queue(session, today=TODAY, state="NY", kind="organization")[0].states == ["MA", "NY"]
    assert queue(session, today=TODAY, state="TX") == []


def test_verified_listing_leaves_the_queue(factory, session):
    listing = aged(session, factory.listing(sync=False), 120)
    verify_listing(session, listing.id, by="alice", method="phone", changed=False, on=TODAY)
    session.commit()
    assert queue(session, today=TODAY) == []


def test_verify_no_change_records_audit_entry(factory, session):
    listing = aged(session, factory.listing(sync=False), 120)
    version = listing.version
    verify_listing(session, listing.id, by="alice", method="phone", changed=False, on=TODAY,
                   expected_version=version)
    session.commit()
    row = session.get(Listing, listing.id)
    assert (row.last_verified, row.verified_by, row.verification_method) == (TODAY, "alice", "phone")
    assert row.version == version + 1
    entry = session.execute(select(AuditEntry).where(AuditEntry.action.like("verify%"))).scalar_one()
    assert (entry.action, entry.actor, entry.listing_id) == ("verify.no_change", "alice", listing.id)
    assert entry.changes == {
        "last_verified": [(TODAY - timedelta(days=120)).isoformat(), TODAY.isoformat()],
        "verified_by": [None, "alice"],
        "verification_method": [None, "phone"],
    }


def test_verify_with_changes_is_a_separate_action(factory, session):
    listing = factory.listing(sync=False)
    verify_listing(session, listing.id, by="bob", method="email", changed=True, on=TODAY)
    session.commit()
    entry = session.execute(select(AuditEntry).where(AuditEntry.action.like("verify%"))).scalar_one()
    assert entry.action == "verify.changed"
    assert entry.changes["last_verified"] == [None, TODAY.isoformat()]


def test_stale_version_is_refused_and_nothing_changes(factory, session):
    listing = factory.listing(sync=False)
    with pytest.raises(StaleVersion):
        verify_listing(session, listing.id, by="alice", method="phone", changed=False,
                       expected_version=listing.version + 1)
    session.rollback()
    assert session.get(Listing, listing.id).last_verified is None
    assert session.execute(select(func.count()).select_from(AuditEntry)
                           .where(AuditEntry.action.like("verify%"))).scalar_one() == 0


def test_unknown_method_and_listing_are_refused(factory, session):
    listing = factory.listing(sync=False)
    with pytest.raises(ValidationError) as error:
        verify_listing(session, listing.id, by="alice", method="import", changed=False)
    assert "method" in error.value.errors
    with pytest.raises(LookupError):
        verify_listing(session, 987654, by="alice", method="phone", changed=False)


def test_reports_are_resolved_only_when_asked(factory, session):
    listing = aged(session, factory.listing(sync=False), 10)
    first, second = report(session, listing), report(session, listing)
    verify_listing(session, listing.id, by="carol", method="phone", changed=False, on=TODAY)
    session.commit()
    assert [r.status for r in session.execute(select(ProblemReport)).scalars()] == ["open", "open"]
    verify_listing(session, listing.id, by="carol", method="phone", changed=True, on=TODAY,
                   resolve_reports=True)
    session.commit()
    for filed in (first, second):
        session.refresh(filed)
        assert (filed.status, filed.resolved_by) == ("resolved", "carol")
        assert filed.resolved_at is not None
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "verify.changed")).scalar_one()
    assert entry.changes == {"resolved_reports": [None, [first.id, second.id]]}
    assert queue(session, today=TODAY) == []


def test_search_shows_the_new_last_verified(app, client, factory, session):
    listing = factory.listing(name="Verified Infusion")
    on = date.today()
    verify_listing(session, listing.id, by="alice", method="nppes", changed=False, on=on)
    session.commit()
    pending = select(func.count()).select_from(IndexChange).where(
        IndexChange.applied_at.is_(None), IndexChange.listing_id == listing.id)
    assert session.execute(pending).scalar_one() == 1
    with app.app_context():
        assert apply_pending(get_engine(app), get_searcher(app)) == 1
    assert session.execute(pending).scalar_one() == 0
    body = client.get("/api/v1/search", query_string={"zip": "02115", "radius": "25"}).get_json()
    [hit] = [r for r in body["results"] if r["id"] == listing.id]
    assert hit["last_verified"] == on.isoformat() and hit["stale"] is False


def test_dashboard_counts_on_a_known_set(ages, session):
    assert dashboard_counts(session, today=TODAY) == {
        "verified_within_90_days": 6,  # 90, 89, 77, 76, 10, 5 days
        "due_soon": 3,  # 90, 89, 77
        "overdue": 1,  # 91
        "never_verified": 1,  # the inactive one is not counted
        "open_reports": 1,
        "total_active": 8,
    }


def test_dashboard_counts_empty(session):
    assert dashboard_counts(session, today=TODAY) == {
        "verified_within_90_days": 0, "due_soon": 0, "overdue": 0, "never_verified": 0,
        "open_reports": 0, "total_active": 0,
    }


def test_verification_report_command(app, ages, session):
    init_app(app)
    result = app.test_cli_runner().invoke(args=["verification-report", "--today", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "overdue: 1" in lines and "total active: 8" in lines and "open reports: 1" in lines
    assert "oldest 6 to verify:" in lines
    queue_lines = lines[lines.index("oldest 6 to verify:") + 1:]
    assert "never verified" in queue_lines[0] and "never" in queue_lines[0]
    assert "91 days" in queue_lines[1] and "1 open reports" in queue_lines[-1]
    result = app.test_cli_runner().invoke(args=["verification-report", "--today", TODAY.isoformat(),
                                                "--state", "TX"])
    assert result.exit_code == 0 and "oldest 0 to verify in TX:" in result.output


def test_verification_report_rejects_a_bad_date(app):
    init_app(app)
    result = app.test_cli_runner().invoke(args=["verification-report", "--today", "June 1"])
    assert result.exit_code != 0

