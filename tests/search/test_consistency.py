"""The database is the source of truth: the text index and listing tables follow every write."""

from __future__ import annotations

import dataclasses

import pytest
import sqlmodel
from sqlalchemy import select, text
from sqlmodel import Session

from directory.db import get_engine
from directory.models import Location, Role
from directory.search import BACKENDS as OPENERS
from directory.search import get_searcher
from directory.search.documents import load_docs
from directory.search.sync import apply_pending, check_index
from directory.services.listings import delete_listing, set_active, update_listing
from directory.services.roles import add_role
from tests.search.helpers import BOSTON, assert_consistent, cli, direct_search, edit, listing_input, report, search

# -- the write path keeps search in step -----------------------------------------------------------


def test_create_update_deactivate_delete(app, client, runner, session, factory):
    fenway = factory.listing(name="Fenway Infusion Center", zip="02115")
    doctor = factory.listing(kind="practitioner", name="Dr. Ada Lovelace", zip="02116")
    assert_consistent(app, runner)
    assert search(client, q="fenway") == [fenway.id]
    assert search(client, q="privigen") == [fenway.id]  # 261QI0500X ties it to IVIG
    assert set(search(client, zip="02115", radius="10")) == {fenway.id, doctor.id}
    assert search(client, q="lovelace") == [doctor.id]

    # Update: new name, new place, new specialty.
    edit(session, factory, fenway, name="Harbor Light Clinic", zips=["96813"], specialties=["261QM1300X"])
    # (That the old name, place and vocabulary no longer match as text is checked by
    # test_renamed_listing_stops_matching_its_old_text, an expected failure.)
    assert search(client, q="harbor light") == [fenway.id]
    assert search(client, q="honolulu") == [fenway.id]
    assert search(client, q="fenway", zip="02115", radius="10") == []
    assert search(client, zip="02115", radius="10") == [doctor.id]
    assert search(client, zip="96813", radius="10") == [fenway.id]
    assert search(client, specialty="261QI0500X") == []
    assert search(client, specialty="261QM1300X") == [fenway.id]
    assert_consistent(app, runner)

    # Deactivate, then restore.
    set_active(session, fenway.id, False, actor="test")
    session.commit()
    factory.sync()
    assert search(client, q="harbor") == []
    assert search(client, zip="96813", radius="10") == []
    assert search(client, specialty="261QM1300X") == []
    assert fenway.id not in search(client)
    assert_consistent(app, runner)
    set_active(session, fenway.id, True, actor="test")
    session.commit()
    factory.sync()
    assert search(client, q="harbor") == [fenway.id]
    assert search(client, zip="96813", radius="10") == [fenway.id]
    assert_consistent(app, runner)

    # Delete.
    delete_listing(session, doctor.id, actor="test")
    session.commit()
    factory.sync()
    assert search(client, q="lovelace") == []
    assert search(client, zip="02115", radius="10") == []
    assert search(client) == [fenway.id]
    assert client.get(f"/api/v1/providers/{doctor.id}").status_code == 404
    assert_consistent(app, runner)


def test_update_without_sync_is_pending_until_applied(backend, app, client, runner, session, factory):
    listing = factory.listing(name="Fenway Infusion Center", zip="02115")
    update_listing(session, listing.id,
                   listing_input(listing, name="Jamaica Plain Infusion", zips=["02130"],
                                 specialties=["261QI0500X"]), actor="test")
    session.commit()
    if backend == "whoosh":
        # Place and filters come from the change log at once; the text index waits for apply_pending.
        assert search(client, zip="02130", radius="1") == [listing.id]
    else:
        # The PostgreSQL index changes only when the change is applied: until then, the old listing.
        assert search(client, zip="02115", radius="1") == [listing.id]
        assert search(client, zip="02130", radius="1") == []
    drift = report(app)
    assert drift.pending == 1 and drift.stale == [listing.id] and not drift.ok
    result = cli(app, runner, "check-index")
    assert result.exit_code == 1
    assert f"out of date in text index: {listing.id}" in result.output
    assert factory.sync() == 1
    assert search(client, q="jamaica") == [listing.id]
    assert search(client, zip="02115", radius="1") == []
    assert_consistent(app, runner)


def test_several_changes_to_one_listing_before_sync(app, client, runner, session, factory):
    listing = factory.listing(sync=False, name="First Name Infusion", zip="02115")
    for i, name in enumerate(["Second Name Infusion", "Third Name Infusion"]):
        update_listing(session, listing.id,
                       listing_input(listing, name=name, zips=["02115"], specialties=["261QI0500X"]),
                       actor="test", expected_version=i + 1)
        session.commit()
    set_active(session, listing.id, False, actor="test")
    set_active(session, listing.id, True, actor="test")
    session.commit()
    assert factory.sync() == 5
    assert search(client, q="third") == [listing.id]
    assert_consistent(app, runner)


def test_deleted_id_reused_by_a_new_listing(app, client, runner, session, factory):
    first = factory.listing(name="Alpha Infusion", zip="02115")
    second = factory.listing(name="Bravo Infusion", zip="02115")
    delete_listing(session, second.id, actor="test")
    session.commit()
    factory.sync()
    third = factory.listing(name="Charlie Infusion", zip="96813")  # SQLite may hand out the same id
    assert search(client, q="bravo") == []
    assert search(client, q="charlie") == [third.id]
    assert search(client, zip="02115", radius="5") == [first.id]
    assert_consistent(app, runner)


# -- drift is found, named, and fixed by reindex ---------------------------------------------------


def test_extra_document_in_text_index(backend, app, client, runner, factory):
    listing = factory.listing(name="Fenway Infusion Center")
    with app.app_context():
        searcher = get_searcher(app)
        with Session(get_engine(app)) as s:
            doc = load_docs(s, [listing.id])[listing.id]
        ghost = dataclasses.replace(doc, lid=987654, name="Ghost Infusion", name_text="Ghost Infusion")
        searcher.update({ghost.lid: ghost})
    drift = report(app)
    assert drift.extra == [987654] and not drift.ok
    result = cli(app, runner, "check-index")
    assert result.exit_code == 1
    assert "in text index but not in database: 987654" in result.output
    if backend == "whoosh":
        # The ghost has no row in the listing table, so search never returns it.
        assert search(client, q="ghost") == []
    result = cli(app, runner, "reindex")
    assert result.exit_code == 0, result.output
    assert "indexed 1 listings" in result.output
    assert_consistent(app, runner)
    assert search(client, q="fenway") == [listing.id]


def test_row_deleted_behind_the_write_path(backend, app, client, runner, factory):
    kept = factory.listing(name="Kept Infusion")
    gone = factory.listing(name="Gone Infusion")
    assert set(search(client, zip="02115", radius="5")) == {kept.id, gone.id}  # the table holds both
    engine = get_engine(app)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM listing WHERE id = :id"), {"id": gone.id})  # no record_change
    drift = report(app)
    assert drift.extra == [gone.id]
    result = cli(app, runner, "check-index")
    assert result.exit_code == 1
    assert f"in text index but not in database: {gone.id}" in result.output
    if backend == "whoosh":  # the Whoosh backend's second structure, the listing table
        assert drift.table_extra == [gone.id]
        assert f"in listing table but not in database: {gone.id}" in result.output
    assert cli(app, runner, "reindex").exit_code == 0
    assert_consistent(app, runner)
    assert search(client, zip="02115", radius="5") == [kept.id]
    assert search(client, q="gone") == []


def test_row_changed_behind_the_write_path(app, client, runner, factory):
    listing = factory.listing(name="Fenway Infusion Center")
    with get_engine(app).begin() as conn:
        conn.execute(text("UPDATE listing SET name = 'Renamed Quietly' WHERE id = :id"), {"id": listing.id})
    drift = report(app)
    assert drift.stale == [listing.id]
    result = cli(app, runner, "check-index")
    assert result.exit_code == 1
    assert f"out of date in text index: {listing.id}" in result.output
    assert cli(app, runner, "reindex").exit_code == 0
    assert_consistent(app, runner)
    assert search(client, q="renamed quietly") == [listing.id]
    assert search(client, q="fenway") == []


def test_document_missing_from_text_index(app, client, runner, factory):
    listing = factory.listing(name="Fenway Infusion Center")
    with app.app_context():
        get_searcher(app).update({listing.id: None})
    drift = report(app)
    assert drift.missing == [listing.id]
    result = cli(app, runner, "check-index")
    assert result.exit_code == 1
    assert f"missing from text index: {listing.id}" in result.output
    assert cli(app, runner, "reindex").exit_code == 0
    assert_consistent(app, runner)
    assert search(client, q="fenway") == [listing.id]


def test_pending_change_fails_check_until_applied(app, runner, factory):
    factory.listing(name="Applied Infusion")
    pending = factory.listing(sync=False, name="Pending Infusion")
    drift = report(app)
    assert drift.pending == 1 and drift.missing == [pending.id]
    result = cli(app, runner, "check-index")
    assert result.exit_code == 1
    assert "pending changes: 1" in result.output
    factory.sync()
    assert_consistent(app, runner)


def test_reindex_on_an_empty_database(app, client, runner):
    assert cli(app, runner, "reindex").exit_code == 0
    assert_consistent(app, runner)
    assert search(client) == []
    assert search(client, q="infusion") == []


def test_reindex_keeps_later_changes(app, client, runner, session, factory):
    before = factory.listing(name="Before Infusion")
    assert cli(app, runner, "reindex").exit_code == 0
    after = factory.listing(name="After Infusion", zip="02116")
    set_active(session, before.id, False, actor="test")
    session.commit()
    factory.sync()
    assert search(client, q="infusion") == [after.id]
    assert search(client, zip="02115", radius="5") == [after.id]
    assert_consistent(app, runner)
    assert cli(app, runner, "reindex").exit_code == 0
    assert search(client, q="infusion") == [after.id]
    assert_consistent(app, runner)


# -- a crash between the database commit and the index write ---------------------------------------


def test_crash_before_index_write_loses_nothing(app, client, runner, factory):
    committed = factory.listing(sync=False, name="Committed Infusion", zip="02115")
    # The process dies here: its searcher never wrote the change. A new process starts.
    with app.app_context():
        old = app.extensions.get("directory.searcher")
        if old is not None:
            old.close()
        app.extensions["directory.searcher"] = None
    fresh = OPENERS[app.config["SEARCH_BACKEND"]](app)
    try:
        assert direct_search(fresh, q="committed") == []  # not in the text index yet
        assert apply_pending(get_engine(app), fresh) == 1
        assert direct_search(fresh, q="committed") == [committed.id]
        assert direct_search(fresh, place=BOSTON) == [committed.id]
        assert apply_pending(get_engine(app), fresh) == 0
        assert check_index(get_engine(app), fresh).ok
    finally:
        fresh.close()
    assert search(client, q="committed") == [committed.id]
    assert_consistent(app, runner)


def test_index_write_without_marking_applied_is_redone_harmlessly(app, client, runner, session, factory):
    with app.app_context():
        searcher = get_searcher(app)  # opened first: opening applies whatever is pending
    listing = factory.listing(sync=False, name="Twice Written Infusion")
    with app.app_context():
        with Session(get_engine(app)) as s:
            searcher.update(load_docs(s, [listing.id]))  # written, then the process died
    assert report(app).pending == 1
    assert factory.sync() == 1
    assert search(client, q="twice") == [listing.id]
    assert_consistent(app, runner)


@pytest.mark.parametrize("command", ["check-index", "reindex"])
def test_cli_runner_without_app_context(runner, command):
    result = runner.invoke(args=[command])
    assert result.exception is None, repr(result.exception)
    assert result.exit_code == 0


def test_update_audit_records_each_changed_field_including_places_and_specialties(app, session, factory):
    from directory.models import AuditEntry

    listing = factory.listing(name="Audit Me Infusion", zip="02115")
    data = listing_input(listing, name="Audited Infusion", zips=["02116"], specialties=["261QI0500X", "3336H0001X"])
    update_listing(session, listing.id, data, actor="auditor", expected_version=listing.version)
    session.commit()
    entry = session.exec(
        sqlmodel.select(AuditEntry).where(AuditEntry.listing_id == listing.id, AuditEntry.action == "update")
    ).one()
    assert entry.actor == "auditor"
    assert entry.changes["name"] == ["Audit Me Infusion", "Audited Infusion"]
    assert entry.changes["specialties"] == [["261QI0500X (primary)"], ["261QI0500X (primary)", "3336H0001X"]]
    before, after = entry.changes["locations"]
    assert "02115" in before[0] and "(617) 555-0100" in before[0]
    assert "02116" in after[0] and "(617) 555-0100" not in after[0]
    assert "networks" not in entry.changes  # unchanged fields are not recorded


def test_editing_an_organization_keeps_its_practitioners_roles_and_their_documents(
        app, client, runner, session, factory):
    org = factory.listing(name="Harborview Infusion", zip="02115")
    doctor = factory.listing(kind="practitioner", name="Dr. Ada Quill", zip="10016")
    location_id = session.execute(select(Location.id).where(Location.listing_id == org.id)).scalar_one()
    add_role(session, practitioner_id=doctor.id, location_id=location_id, actor="test")
    session.commit()
    factory.sync()
    assert search(client, q="harborview", kind="practitioner") == [doctor.id]
    # Rename the organization and change its address: the role stays, the doctor's document follows.
    edit(session, factory, org, name="Lighthouse Infusion", zips=["02116"], specialties=["261QI0500X"])
    assert session.execute(select(Role.id).where(Role.practitioner_id == doctor.id)).all()
    assert search(client, q="lighthouse", kind="practitioner") == [doctor.id]
    assert search(client, q="harborview") == []
    assert doctor.id in search(client, zip="02116", radius="1")
    assert_consistent(app, runner)
    # Deleting the organization removes the role; the doctor's document loses that place.
    delete_listing(session, org.id, actor="test")
    session.commit()
    factory.sync()
    assert search(client, q="lighthouse") == []
    assert search(client, zip="02116", radius="1") == []
    assert search(client, zip="10016", radius="1") == [doctor.id]
    assert_consistent(app, runner)
