"""The audit trail: filtering, CSV export, and entries that cannot be edited or deleted (by the ORM,
and by the database itself on SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from directory.audit import AuditImmutable, entries, export_csv
from directory.csvcells import restore
from directory.db import get_engine
from directory.migrate import alembic_config
from directory.models import AuditEntry
from directory.services.verification import verify_listing
from tests.backends import close_app, make_app


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def trail(session):
    """Four entries on known days, by two actors about two listings."""
    rows = [
        AuditEntry(at=at(1), actor="alice", listing_id=1, action="create", changes={"name": [None, "A"]}),
        AuditEntry(at=at(2), actor="bob", listing_id=2, action="update",
                   changes={"name": ["B", "Bee"], "telehealth": [False, True]}),
        AuditEntry(at=at(3), actor="alice", listing_id=2, action="verify.no_change",
                   changes={"last_verified": [None, "2026-03-03"]}),
        AuditEntry(at=at(4), actor="bob", listing_id=1, action="verify.changed", changes={}),
    ]
    session.add_all(rows)
    session.commit()
    return rows


def test_entries_are_newest_first(trail, session):
    assert [e.at.day for e in entries(session)] == [4, 3, 2, 1]
    assert [e.at.day for e in entries(session, limit=2, offset=1)] == [3, 2]


def test_entries_filter_by_listing_actor_and_action(trail, session):
    assert [e.at.day for e in entries(session, listing_id=1)] == [4, 1]
    assert [e.at.day for e in entries(session, actor="alice")] == [3, 1]
    assert [e.at.day for e in entries(session, action="verify")] == [4, 3]
    assert [e.at.day for e in entries(session, action="verify.changed")] == [4]
    assert [e.at.day for e in entries(session, action="verif")] == []
    assert [e.at.day for e in entries(session, actor="bob", listing_id=2)] == [2]


def test_entries_filter_by_time(trail, session):
    assert [e.at.day for e in entries(session, since=at(2), until=at(4))] == [3, 2]
    assert [e.at.day for e in entries(session, since=date(2026, 3, 3))] == [4, 3]
    assert [e.at.day for e in entries(session, until=date(2026, 3, 2))] == [1]
    assert [e.at.day for e in entries(session, since=datetime(2026, 3, 2, 12, 0))] == [4, 3, 2]  # naive = UTC


def test_csv_has_one_row_per_changed_field(trail, session):
    stream = io.StringIO()
    assert export_csv(session, stream) == 5
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert list(rows[0]) == ["at", "actor", "action", "listing_id", "field", "before", "after"]
    assert [(r["action"], r["field"], r["before"], r["after"]) for r in rows] == [
        ("verify.changed", "", "", ""),
        ("verify.no_change", "last_verified", "", "2026-03-03"),
        ("update", "name", "B", "Bee"),
        ("update", "telehealth", "false", "true"),
        ("create", "name", "", "A"),
    ]
    assert rows[2]["at"] == "2026-03-02T12:00:00+00:00" and rows[2]["actor"] == "bob"
    assert rows[2]["listing_id"] == "2"


def test_csv_takes_the_same_filters(trail, session):
    stream = io.StringIO()
    assert export_csv(session, stream, actor="bob", action="update") == 2
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert {r["field"] for r in rows} == {"name", "telehealth"}


def test_a_real_verification_exports(factory, session):
    listing = factory.listing(sync=False)
    verify_listing(session, listing.id, by="alice", method="phone", changed=False, on=date(2026, 3, 5))
    session.commit()
    stream = io.StringIO()
    export_csv(session, stream, listing_id=listing.id, action="verify")
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert {r["field"]: r["after"] for r in rows} == {
        "last_verified": "2026-03-05", "verified_by": "alice", "verification_method": "phone",
    }


def test_editing_an_entry_raises_and_leaves_it_unchanged(app, trail, session):
    entry = entries(session, actor="alice", limit=1)[0]
    entry.actor = "mallory"
    entry.changes = {}
    with pytest.raises(AuditImmutable):
        session.commit()
    session.rollback()
    with Session(get_engine(app)) as fresh:
        row = fresh.get(AuditEntry, entry.id)
        assert row.actor == "alice" and row.changes == {"last_verified": [None, "2026-03-03"]}


def test_deleting_an_entry_raises_and_leaves_it(app, trail, session):
    entry = entries(session, limit=1)[0]
    session.delete(entry)
    with pytest.raises(AuditImmutable):
        session.commit()
    session.rollback()
    with Session(get_engine(app)) as fresh:
        assert fresh.get(AuditEntry, entry.id) is not None


def test_bulk_update_and_delete_through_the_orm_raise(app, trail, session):
    with pytest.raises(AuditImmutable):
        session.execute(update(AuditEntry).values(actor="mallory"))
    with pytest.raises(AuditImmutable):
        session.execute(delete(AuditEntry).where(AuditEntry.actor == "bob"))
    session.rollback()
    with Session(get_engine(app)) as fresh:
        assert sorted(fresh.execute(select(AuditEntry.actor)).scalars()) == ["alice", "alice", "bob", "bob"]


def test_adding_entries_still_works(trail, session):
    session.add(AuditEntry(actor="carol", listing_id=3, action="create"))
    session.commit()
    assert entries(session, actor="carol")[0].listing_id == 3


def test_csv_cells_never_become_spreadsheet_formulas(session):
    formula = '=HYPERLINK("http://evil.example","click")'
    session.add(AuditEntry(at=at(5), actor="@evil", listing_id=7, action="update",
                           changes={"name": ["-2+3", formula], "phone": [None, "+1 617"]}))
    session.commit()
    stream = io.StringIO()
    export_csv(session, stream)
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert [(r["actor"], r["field"], r["before"], r["after"]) for r in rows] == [
        ("'@evil", "name", "'-2+3", "'" + formula),
        ("'@evil", "phone", "", "'+1 617"),
    ]
    assert [restore(r["after"]) for r in rows] == [formula, "+1 617"]


# --- append-only in the database itself ---------------------------------------------------------

def raw_changes_are_refused(engine) -> None:
    """Raw SQL, outside the ORM: INSERT works, UPDATE and DELETE fail and change nothing."""
    with engine.begin() as conn:
        conn.execute(text("insert into auditentry (at, actor, action, changes) "
                          "values (:at, 'raw', 'create', '{}')"), {"at": at(6)})
    statements = ("update auditentry set actor = 'mallory'",
                  "update auditentry set changes = '{}' where actor = 'raw'",
                  "delete from auditentry where actor = 'raw'",
                  "delete from auditentry")
    for statement in statements:
        with engine.connect() as conn, pytest.raises(IntegrityError, match="append-only"):
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(select(AuditEntry.actor).order_by(AuditEntry.id)).scalars().all() == ["raw"]


def test_the_sqlite_database_refuses_to_edit_or_delete_entries(app):
    raw_changes_are_refused(get_engine(app))


def test_the_postgresql_database_refuses_to_edit_delete_or_truncate_entries(postgres_server, tmp_path):
    app = make_app("whoosh", tmp_path, DATABASE_URL=postgres_server.database())
    try:
        engine = get_engine(app)
        raw_changes_are_refused(engine)
        with engine.connect() as conn, pytest.raises(IntegrityError, match="append-only"):
            conn.execute(text("truncate auditentry"))
    finally:
        close_app(app)


def test_downgrading_0006_lifts_the_guard(app):
    engine = get_engine(app)
    with engine.begin() as conn:
        conn.execute(text("insert into auditentry (at, actor, action, changes) values (:at, 'a', 'x', '{}')"),
                     {"at": at(6)})
        command.downgrade(alembic_config(conn), "0005")
        conn.execute(text("delete from auditentry"))
        assert conn.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 0
        command.upgrade(alembic_config(conn), "head")
    raw_changes_are_refused(engine)
