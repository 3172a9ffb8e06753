"""`Searcher.matching_ids`: every listing a search finds, the same set as the ids of all its hits,
on both backends, for searches by place alone (where a nearest-first search stops at a page),
with filters, with words, and after listings changed since the index was built."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from directory import demo
from directory.db import get_engine
from directory.geo import lookup_zip
from directory.search import get_searcher, rebuild_index
from directory.search.query import Place, SearchQuery

BOSTON = lookup_zip("02115")


def every_hit(searcher, query: SearchQuery) -> set[int]:
    result = searcher.search(replace(query, page=1, per_page=10**6, facets=False))
    assert len(result.hits) == result.total
    return {hit.lid for hit in result.hits}


QUERIES = [
    SearchQuery(place=Place(BOSTON.lat, BOSTON.lon, 25), sort="distance"),
    SearchQuery(place=Place(BOSTON.lat, BOSTON.lon, 60), sort="distance", per_page=5),
    SearchQuery(place=Place(BOSTON.lat, BOSTON.lon, 40), specialties=("207RR0500X",), sort="distance"),
    SearchQuery(place=Place(BOSTON.lat, BOSTON.lon, 40), kind="organization", accepting=True),
    SearchQuery(q="ivig", place=Place(BOSTON.lat, BOSTON.lon, 100), sort="relevance"),
    SearchQuery(q="dermatomyositis"),
    SearchQuery(q="zzzqqxx"),  # nothing
    SearchQuery(q="the"),  # no searchable word
]


@pytest.fixture
def searcher(app):
    with app.app_context():
        demo.generate(get_engine(app), count=400, seed=5, today=date(2026, 1, 1))
        rebuild_index(app)
        yield get_searcher()


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_matching_ids_are_every_hit(searcher, query):
    found = searcher.matching_ids(query)
    assert found == every_hit(searcher, query)
    if query.place is not None and query.q is None:
        assert found  # the demo has listings around Boston: the test compares something


def test_matching_ids_see_listings_changed_since_the_index_was_built(app, searcher, factory):
    """A listing written after the rebuild (the Whoosh backend's overlay) is found too."""
    with app.app_context():
        listing = factory.listing(zip="02115", name="Overlay Infusion Centre")
        query = SearchQuery(place=Place(BOSTON.lat, BOSTON.lon, 5), sort="distance")
        found = searcher.matching_ids(query)
        assert listing.id in found
        assert found == every_hit(searcher, query)
