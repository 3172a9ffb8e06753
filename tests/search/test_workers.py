"""Several workers on one index: changes seen by each, no stale text after edits, restarts."""

from __future__ import annotations

from directory import create_app
from directory.db import get_engine
from directory.search import BACKENDS as OPENERS
from directory.search import get_searcher
from directory.search.sync import apply_pending, check_index
from directory.services.listings import delete_listing, set_active
from tests.search.helpers import BOSTON, HONOLULU, assert_consistent, cli, direct_search, edit, search

# -- several workers -------------------------------------------------------------------------------


def test_second_worker_sees_changes(app, client, runner, session, factory, worker):
    assert direct_search(worker, place=BOSTON) == []
    listing = factory.listing(name="Fenway Infusion Center", zip="02115")
    assert direct_search(worker, place=BOSTON) == [listing.id]
    assert direct_search(worker, q="fenway") == [listing.id]

    edit(session, factory, listing, name="Waikiki Infusion", zips=["96815"], specialties=["261QI0500X"])
    assert direct_search(worker, place=BOSTON) == []
    assert direct_search(worker, q="waikiki") == [listing.id]
    assert direct_search(worker, place=HONOLULU) == [listing.id]

    set_active(session, listing.id, False, actor="test")
    session.commit()
    factory.sync()
    assert direct_search(worker, q="waikiki") == []
    assert direct_search(worker, place=HONOLULU) == []

    set_active(session, listing.id, True, actor="test")
    session.commit()
    factory.sync()
    assert direct_search(worker, q="waikiki") == [listing.id]

    delete_listing(session, listing.id, actor="test")
    session.commit()
    factory.sync()
    assert direct_search(worker, q="waikiki") == []
    assert direct_search(worker, place=HONOLULU) == []
    with app.app_context():
        assert check_index(get_engine(app), worker).ok


def test_changes_applied_by_second_worker_are_seen_by_the_first(app, client, factory, worker):
    first = factory.listing(name="Fenway Infusion Center")
    assert search(client, q="fenway") == [first.id]  # the app's searcher is open and warm
    second = factory.listing(sync=False, name="Longwood Infusion")
    assert apply_pending(get_engine(app), worker) == 1
    assert search(client, q="longwood") == [second.id]
    assert set(direct_search(worker, q="infusion")) == {first.id, second.id}


def test_second_worker_follows_a_reindex(app, client, runner, session, factory, worker):
    a = factory.listing(name="Alpha Infusion")
    assert direct_search(worker, q="alpha") == [a.id]
    assert cli(app, runner, "reindex").exit_code == 0
    b = factory.listing(name="Bravo Infusion")
    assert direct_search(worker, q="alpha") == [a.id]
    assert direct_search(worker, q="bravo") == [b.id]
    assert set(direct_search(worker, place=BOSTON)) == {a.id, b.id}
    assert cli(app, runner, "reindex").exit_code == 0
    assert set(direct_search(worker, q="infusion")) == {a.id, b.id}
    with app.app_context():
        assert check_index(get_engine(app), worker).ok


def test_worker_opened_before_any_index_exists(app, client, factory, worker):
    # `worker` created the (empty) index folder; the app's searcher opens afterwards.
    listing = factory.listing(name="Fenway Infusion Center")
    assert direct_search(worker, q="fenway") == [listing.id]
    assert search(client, q="fenway") == [listing.id]


# -- stale text after an update (Whoosh reader reuse) ----------------------------------------------



def test_renamed_listing_stops_matching_its_old_text(app, client, runner, session, factory):
    fenway = factory.listing(name="Fenway Infusion Center", zip="02115")
    factory.listing(kind="practitioner", name="Dr. Ada Lovelace", zip="02116")
    assert search(client, q="fenway") == [fenway.id]  # the app's searcher is open and warm
    edit(session, factory, fenway, name="Harbor Light Clinic", zips=["96813"], specialties=["261QM1300X"])
    assert_consistent(app, runner)
    assert search(client, q="harbor light") == [fenway.id]
    assert search(client, q="fenway") == []
    assert search(client, q="privigen") == []  # the old specialty's vocabulary
    assert search(client, q="boston", kind="organization") == []


def test_second_worker_stops_matching_old_text(app, session, factory, worker):
    listing = factory.listing(name="Fenway Infusion Center", zip="02115")
    assert direct_search(worker, q="fenway") == [listing.id]
    edit(session, factory, listing, name="Waikiki Infusion", zips=["96815"], specialties=["261QI0500X"])
    assert direct_search(worker, q="waikiki") == [listing.id]
    assert direct_search(worker, q="fenway") == []


def test_document_removed_from_text_index_stops_matching(app, client, factory):
    listing = factory.listing(name="Fenway Infusion Center")
    assert search(client, q="fenway") == [listing.id]
    with app.app_context():
        get_searcher(app).update({listing.id: None})
    assert search(client, q="fenway") == []


def test_renamed_listing_text_is_right_after_a_restart(app, client, session, factory):
    """The same change seen through a freshly opened searcher is right (so the index is)."""
    fenway = factory.listing(name="Fenway Infusion Center", zip="02115")
    edit(session, factory, fenway, name="Harbor Light Clinic", zips=["96813"], specialties=["261QM1300X"])
    fresh = OPENERS[app.config["SEARCH_BACKEND"]](app)
    try:
        assert direct_search(fresh, q="harbor light") == [fenway.id]
        assert direct_search(fresh, q="fenway") == []
        assert direct_search(fresh, q="privigen") == []
    finally:
        fresh.close()


def test_a_new_process_applies_changes_left_pending_by_a_crash(app, factory):
    listing = factory.listing(sync=False, name="Left Pending Infusion")  # committed, index not written
    keys = ("DATABASE_URL", "INDEX_DIR", "SECRET_KEY", "SEARCH_BACKEND")
    restarted = create_app({key: app.config[key] for key in keys})
    try:
        response = restarted.test_client().get("/api/v1/search?q=pending")
        assert [r["id"] for r in response.get_json()["results"]] == [listing.id]
        with restarted.app_context():
            assert check_index(get_engine(restarted), get_searcher(restarted)).ok
    finally:
        get_searcher(restarted).close()
        get_engine(restarted).dispose()
