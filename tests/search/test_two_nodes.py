"""Two nodes (machines) sharing one PostgreSQL database, each with its own local folder.

- With SEARCH_BACKEND=postgres the index lives in the database: both nodes write at once, nothing is
  lost, and each node sees the other's writes at its next search.
- With the Whoosh backend the index lives in each node's INDEX_DIR: a change applied by one node
  never reaches the other node's text index. check-index on that node names the drift and reindex
  repairs it; the README says to use the PostgreSQL backend for more than one machine.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session

from directory import create_app
from directory.db import get_engine
from directory.npi import make_npi
from directory.search import get_searcher, rebuild_index
from directory.search.query import SearchQuery
from directory.search.sync import apply_pending, check_index
from directory.services.listings import ListingInput, LocationInput, create_listing
from tests.search.writers import renamed_count, write_at_once


def node_settings(app, folder, backend: str) -> dict:
    return {"DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "two-nodes",
            "INDEX_DIR": str(folder), "SEARCH_BACKEND": backend}


@pytest.mark.backends("postgres")
def test_two_nodes_write_at_once_and_see_each_other(app, tmp_path):
    nodes = [node_settings(app, tmp_path / f"node{n}", "postgres") for n in range(2)]
    made = write_at_once(nodes)
    for settings in nodes:  # each node, as it would answer now
        node = create_app(settings)
        try:
            with node.app_context():
                searcher = get_searcher(node)
                found = searcher.search(SearchQuery(q="clinic", per_page=100))
                assert sorted(h.lid for h in found.hits) == made
                assert searcher.search(SearchQuery(q="renamed", per_page=100)).total == renamed_count(2)
                assert check_index(get_engine(node), searcher).ok
        finally:
            get_searcher(node).close()
            get_engine(node).dispose()


@pytest.mark.backends("postgres")  # a shared PostgreSQL store, the Whoosh backend on each node
def test_whoosh_nodes_with_their_own_folders_drift_and_say_so(app, tmp_path):
    first, second = (create_app(node_settings(app, tmp_path / f"whoosh{n}", "whoosh")) for n in range(2))
    try:
        for node in (first, second):
            with node.app_context():
                rebuild_index(node)
                get_searcher(node)  # both nodes are up before the write
        data = ListingInput(kind="organization", npi=make_npi(7_900_001, individual=False),
                            name="Only On One Node Infusion", specialties=["261QI0500X"],
                            locations=[LocationInput(address="1 Main St", zip="02115")])
        with first.app_context(), Session(get_engine(first)) as session:
            listing_id = create_listing(session, data, actor="node-1").id
            session.commit()
            assert apply_pending(get_engine(first), get_searcher(first)) == 1
        assert [h.lid for h in get_searcher(first).search(SearchQuery(q="only one node")).hits] == [listing_id]
        with second.app_context():
            searcher = get_searcher(second)
            # The change was applied (by the first node), so the second node's text index never gets it.
            assert searcher.search(SearchQuery(q="only one node")).hits == []
            drift = check_index(get_engine(second), searcher)
            assert drift.missing == [listing_id] and not drift.ok
            rebuild_index(second)
            assert [h.lid for h in searcher.search(SearchQuery(q="only one node")).hits] == [listing_id]
            assert check_index(get_engine(second), searcher).ok
    finally:
        for node in (first, second):
            searcher = node.extensions.get("directory.searcher")
            if searcher is not None:
                searcher.close()
            get_engine(node).dispose()
