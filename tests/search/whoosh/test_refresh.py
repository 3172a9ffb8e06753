"""A search without words catches up with the tables but leaves the text index to the next search
that reads it; that search sees the words another process committed meanwhile."""

from __future__ import annotations

import pytest

from directory.db import get_engine
from directory.search import get_searcher
from directory.search.query import Place, SearchQuery
from directory.search.whoosh.backend import WhooshSearcher

pytestmark = pytest.mark.backends("whoosh")

BOSTON = Place(42.3427, -71.0922, 25)


def test_a_text_search_after_searches_by_place_sees_another_process_words(app, factory):
    factory.listing(name="Harbor Infusion Center")
    with app.app_context():
        other = WhooshSearcher(app.config["INDEX_DIR"], get_engine(app))  # as another worker holds it
    try:
        assert other.search(SearchQuery(q="quenneville")).total == 0
        generation = other.matcher._searcher.reader().generation()
        listing = factory.listing(name="Quenneville Infusion Center")  # written by this process's searcher
        by_place = other.search(SearchQuery(place=BOSTON, sort="distance"))
        assert listing.id in {hit.lid for hit in by_place.hits}  # the tables caught up ...
        assert other.matcher._searcher.reader().generation() == generation  # ... the text index waited
        found = other.search(SearchQuery(q="quenneville"))
        assert [hit.lid for hit in found.hits] == [listing.id]
        with app.app_context():
            assert get_searcher(app).search(SearchQuery(q="quenneville")).total == 1
    finally:
        other.close()
