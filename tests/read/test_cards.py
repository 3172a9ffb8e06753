"""Stored result cards: a page read from them is the page hydrated from the rows, to the byte; they
follow every change through the outbox; a listing without one is hydrated from its rows."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import delete, select, update

from directory import demo
from directory.db import get_engine
from directory.models import Listing, Location, Network, PublicCard, PublicPlace
from directory.read import hydrate
from directory.read.find import find, find_json
from directory.read.shapes import Facets, SearchPage, construct
from directory.search import get_searcher, rebuild_index
from directory.search.query import Place, SearchQuery
from directory.search.sync import record_change
from directory.services.restore import restore_fields
from directory.services.unit_of_work import unit_of_work


def place_at_street(app, session, listing_id: int, lat: float, lon: float) -> None:
    """Move a listing's location to a street point through the write path (audited, outbox), as the
    geocoding queue does."""
    location = session.execute(select(Location).where(Location.listing_id == listing_id)).scalar_one()
    with app.app_context(), unit_of_work("test", session=session) as work:
        restore_fields(work.session, listing_id, {}, {location.id: {"lat": lat, "lon": lon, "geo_source": "geocoder"}},
                       actor="test")


def page_from_rows(query: SearchQuery) -> str:
    """The API's page as it was made before cards were stored: every card hydrated from its rows."""
    result = get_searcher().search(query)
    place = query.place
    with get_engine().connect() as conn:
        results = hydrate.cards(conn, [h.lid for h in result.hits],
                                {h.lid: h.distance_mi for h in result.hits} if place else None,
                                (place.lat, place.lon) if place else None)
    return construct(SearchPage, {
        "total": result.total, "page": query.page, "per_page": query.per_page, "results": results,
        "facets": construct(Facets, {name: result.facets.get(name) for name in Facets.model_fields}),
        "place": None,
    }).model_dump_json()


def mix(networks: list[int]) -> list[SearchQuery]:
    boston, chicago = (42.3427, -71.0922), (41.8925, -87.6262)
    out = []
    for lat, lon in (boston, chicago):
        out += [
            SearchQuery(place=Place(lat, lon, 25), networks=(networks[0],), accepting=True, sort="distance"),
            SearchQuery(place=Place(lat, lon, 50), specialties=("207RR0500X", "2084N0400X"), sort="distance"),
            SearchQuery(q="dermatomyositis IVIG", place=Place(lat, lon, 100), sort="distance"),
            SearchQuery(place=Place(lat, lon, 50), sort="distance", per_page=100),
            SearchQuery(place=Place(lat, lon, 500), sort="name", page=2),
        ]
    return out + [SearchQuery(q="infusion", sort="relevance"), SearchQuery(q="smith", sort="name", per_page=7)]


def test_pages_from_stored_cards_equal_pages_from_rows(app):
    with app.app_context():
        demo.generate(get_engine(), count=400, seed=3, today=date(2026, 1, 1))
        rebuild_index(app)
        with get_engine().connect() as conn:
            networks = list(conn.execute(select(Network.id).order_by(Network.id)).scalars())
            assert conn.execute(select(PublicCard.listing_id)).first() is not None
        shown = 0
        for query in mix(networks):
            expected = page_from_rows(query)
            assert find_json(query).decode() == expected, repr(query)
            assert find(query).model_dump_json() == expected, repr(query)
            shown += len(json.loads(expected)["results"])
    assert shown > 100


def test_a_card_follows_an_edit_and_a_listing_without_one_comes_from_its_rows(app, factory, client, session):
    clinic = factory.listing(name="Fenway Infusion", zip="02115")
    factory.listing(name="Back Bay Infusion", zip="02116")
    session.get(Listing, clinic.id).name = "Fenway Infusion Center"
    record_change(session, clinic.id)  # as a service does, in the same transaction
    session.commit()
    assert factory.sync() == 1
    names = [r["name"] for r in client.get("/api/v1/search?zip=02115&radius=5").get_json()["results"]]
    assert names == ["Fenway Infusion Center", "Back Bay Infusion"]
    with app.app_context(), get_engine().begin() as conn:
        conn.execute(delete(PublicPlace))
        conn.execute(delete(PublicCard).where(PublicCard.listing_id == clinic.id))
    again = client.get("/api/v1/search?zip=02115&radius=5").get_json()["results"]
    assert [r["name"] for r in again] == names
    assert again[0]["location"]["zip"] == "02115" and again[1]["location"]["zip"] == "02116"


def test_a_listing_deleted_since_its_card_was_written_is_left_out(app, factory, client):
    gone = factory.listing(name="Fenway Infusion", zip="02115")
    kept = factory.listing(name="Back Bay Infusion", zip="02116")
    with app.app_context(), get_engine().begin() as conn:
        conn.execute(delete(Listing).where(Listing.id == gone.id))  # no outbox: the card stays
        assert conn.execute(select(PublicCard).where(PublicCard.listing_id == gone.id)).first() is not None
    assert [r["id"] for r in client.get("/api/v1/search?zip=02115&radius=5").get_json()["results"]] == [kept.id]


def test_distance_basis_from_stored_cards_equals_rows_and_old_places_are_read_from_rows(app, factory, client,
                                                                                       session):
    """A place stored before geo_source was part of a card (its JSON ends at "fax") is not served as
    it is: the card is hydrated from the rows, with geo_source and distance_basis, until rewritten."""
    factory.listing(name="Fenway Infusion", zip="02115")
    street = factory.listing(name="Back Bay Infusion", zip="02116")
    place_at_street(app, session, street.id, 42.3505, -71.0760)
    factory.sync()
    query = SearchQuery(place=Place(42.3427, -71.0922, 5), sort="distance")
    with app.app_context():
        stored = find_json(query).decode()
        assert stored == page_from_rows(query)
        assert [r["distance_basis"] for r in json.loads(stored)["results"]] == ["zip_centroid", "street"]
        with get_engine().begin() as conn:
            for location_id, body in conn.execute(select(PublicPlace.location_id, PublicPlace.body)).all():
                old = json.loads(body)
                del old["geo_source"]
                conn.execute(update(PublicPlace).where(PublicPlace.location_id == location_id)
                             .values(body=json.dumps(old, separators=(",", ":"))))
        assert find_json(query).decode() == stored
        assert find(query).model_dump_json() == stored


@pytest.mark.parametrize("backend", ["whoosh", "postgres"])
def test_stored_rows_of_a_page_come_back_typed_once_each_whatever_the_padding(app, factory, session):
    """The page's statement runs on the driver's cursor, padded to a power of two with null pairs:
    each listing comes back once, its verification day a date and its demo flag a bool, on both
    databases (SQLite gives dates as text)."""
    from directory.read.cards import page_rows
    from directory.services.verification import verify_listing

    listings = [factory.listing(name=f"Clinic {i}") for i in range(3)]  # 3 of a statement for 4
    with app.app_context(), unit_of_work("test", session=session) as work:
        verify_listing(work.session, listings[0].id, by="test", method="phone", changed=False)
    ids = [listing.id for listing in listings] + [listings[0].id]  # a repeated id counts once
    with app.app_context(), get_engine().connect() as conn:
        rows = page_rows(conn, ids, {})
    assert sorted(rows) == sorted(listing.id for listing in listings)
    verified = rows[listings[0].id][2]
    assert isinstance(verified, date) and verified == date.today()
    assert all(rows[listing.id][3] is False for listing in listings)
    assert all(rows[listing.id][4].startswith("{") for listing in listings)  # the listing's own place
