"""A serving process warms its Whoosh searcher: the arrays that searches would make at first use
(facet numbers, the map of listing ids, the rows' topic words) are made at once, and made again
when another process's reindex replaces the snapshot."""

from __future__ import annotations

import pytest

from directory.db import get_engine
from directory.search import rebuild_index
from directory.search.query import SearchQuery
from directory.search.whoosh.backend import WhooshSearcher

pytestmark = pytest.mark.backends("whoosh")


def prepared(searcher: WhooshSearcher) -> bool:
    table = searcher.base
    return (table.facet_counter._parts is not None and table._pos_of_lid is not None
            and set(table._row_topic_sets) == set(table.topic_sets))


def test_a_warmed_searcher_prepares_each_snapshot_it_loads(app, factory):
    for n in range(3):
        factory.listing(name=f"Harbor Infusion Center {n}")
    rebuild_index(app)
    with app.app_context():
        cold = WhooshSearcher(app.config["INDEX_DIR"], get_engine(app))
        warm = WhooshSearcher(app.config["INDEX_DIR"], get_engine(app))
    try:
        warm.warm()
        assert prepared(warm) and not prepared(cold)
        first = warm.base
        rebuild_index(app)  # as `reindex` in another process: a new snapshot
        assert warm.search(SearchQuery(q="harbor")).total == 3
        assert warm.base is not first and prepared(warm)
        assert cold.search(SearchQuery(q="harbor")).total == 3
        assert not prepared(cold)  # made at first use only
    finally:
        cold.close()
        warm.close()
