"""Search, then hydrate: the one way a query becomes a page of cards, for the JSON API, the
results page, the CSV export and the referral list alike."""

from __future__ import annotations

from directory.db import get_engine
from directory.read import hydrate
from directory.read.shapes import Facets, SearchPage, construct
from directory.search import get_searcher
from directory.search.query import SearchQuery

FACETS = tuple(Facets.model_fields)


def find(query: SearchQuery) -> SearchPage:
    """The page of `query`'s results the searcher ranked, hydrated from the database in that order
    (listings deleted in between are left out), with the total and facet counts of every match."""
    result = get_searcher().search(query)
    ids = [hit.lid for hit in result.hits]
    place = query.place
    distances = {hit.lid: hit.distance_mi for hit in result.hits} if place else None
    # A backend that passes on each hit's nearest location spares hydration computing it again.
    nearest = {hit.lid: loc_id for hit in result.hits if (loc_id := getattr(hit, "location_id", None)) is not None}
    with get_engine().connect() as conn:  # Core rows only: a session would add nothing but its cost
        results = hydrate.cards(conn, ids, distances, (place.lat, place.lon) if place else None, nearest)
    return construct(SearchPage, {
        "total": result.total,
        "page": query.page,
        "per_page": query.per_page,
        "results": results,
        "facets": construct(Facets, {name: result.facets.get(name) for name in FACETS}),
    })
