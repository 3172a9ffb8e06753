"""find(query): search, then hydrate the page in rank order, for every caller."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from directory.models import Location
from directory.read.find import find
from directory.search import get_searcher
from directory.search.contract import Hit
from directory.search.query import parse_search_args


def test_a_page_of_cards_in_rank_order_with_miles_total_and_facets(app, factory):
    near = factory.listing(name="Fenway Infusion", zip="02115")
    far = factory.listing(name="Cambridge Infusion", zip="02139")
    with app.app_context():
        page = find(parse_search_args({"zip": "02115", "radius": "20"}, lambda ids: set(ids)))
    assert (page.total, page.page, page.per_page) == (2, 1, 20)
    assert [card.id for card in page.results] == [near.id, far.id]
    assert page.results[0].distance_mi < page.results[1].distance_mi
    assert page.facets.kind == {"organization": 2}


def test_without_a_place_there_are_no_miles(app, factory):
    factory.listing(name="Fenway Infusion")
    with app.app_context():
        page = find(parse_search_args({"q": "fenway"}, lambda ids: set(ids)))
    assert [card.distance_mi for card in page.results] == [None]
    assert "distance_mi" not in page.model_dump(mode="json")["results"][0]


@dataclass
class HitWithPlace(Hit):
    location_id: int | None = None


def test_a_hit_that_names_its_nearest_location_is_shown_there(app, factory, session, monkeypatch):
    """A backend whose hits carry the nearest location's id spares hydration computing it."""
    listing = factory.listing(name="Two Sites", zips=["02115", "02139"])
    site_ids = session.execute(select(Location.id).where(Location.listing_id == listing.id)).scalars().all()
    with app.app_context():
        query = parse_search_args({"zip": "02115", "radius": "20"}, lambda ids: set(ids))
        result = get_searcher().search(query)
        [computed] = find(query).results
        [other] = set(site_ids) - {computed.location.id}
        result.hits = [HitWithPlace(hit.lid, hit.distance_mi, hit.score, location_id=other) for hit in result.hits]
        monkeypatch.setattr(type(get_searcher()), "search", lambda self, q: result)
        [named] = find(query).results
    assert computed.location.zip == "02115"
    assert named.location.id == other and named.location.zip == "02139"
