"""Search, then hydrate: the one way a query becomes a page of cards, for the JSON API, the
results page, the CSV export and the referral list alike. The cards come from their stored form
(`cards`) in one statement: as shapes for the pages and exports (`find`), or as the JSON text of
the whole page for the API (`find_json`)."""

from __future__ import annotations

import orjson

from directory.db import get_engine
from directory.read import cards
from directory.read.shapes import Facets, SearchPage, SearchPlacePublic, construct
from directory.search import get_searcher
from directory.search.contract import SearchResult
from directory.search.query import SearchQuery

FACETS = tuple(Facets.model_fields)


def _search(query: SearchQuery) -> tuple[SearchResult, list[int], dict | None, tuple | None, dict[int, int]]:
    result = get_searcher().search(query)
    ids = [hit.lid for hit in result.hits]
    place = query.place
    distances = {hit.lid: hit.distance_mi for hit in result.hits} if place else None
    # Each hit's nearest location, where the backend names it: hydration reads only that place.
    nearest = {hit.lid: hit.location_id for hit in result.hits if hit.location_id is not None}
    return result, ids, distances, (place.lat, place.lon) if place else None, nearest


def find(query: SearchQuery, place: SearchPlacePublic | None = None) -> SearchPage:
    """The page of `query`'s results the searcher ranked, hydrated from the database in that order
    (listings deleted in between are left out), with the total and facet counts of every match, and
    `place`, the place searched as it was resolved, echoed."""
    result, ids, distances, near, nearest = _search(query)
    with get_engine().connect() as conn:  # Core rows only: a session would add nothing but its cost
        results = cards.page_shapes(conn, ids, distances, near, nearest, orjson.loads)
    return construct(SearchPage, {
        "total": result.total,
        "page": query.page,
        "per_page": query.per_page,
        "results": results,
        "facets": construct(Facets, {name: result.facets.get(name) for name in FACETS}),
        "place": place,
    })


def find_json(query: SearchQuery, place: SearchPlacePublic | None = None) -> bytes:
    """`find(query, place)` as the JSON of `SearchPage` (its members in the shape's order), spliced
    from the stored cards without building shapes."""
    result, ids, distances, near, nearest = _search(query)
    with get_engine().connect() as conn:
        results = cards.page_json(conn, ids, distances, near, nearest)
    facets = orjson.dumps({name: counts for name in FACETS if (counts := result.facets.get(name)) is not None})
    return b"".join((
        f'{{"total":{result.total},"page":{query.page},"per_page":{query.per_page},"results":['.encode(),
        ",".join(results).encode(), b'],"facets":', facets,
        b"" if place is None else b',"place":' + place.model_dump_json().encode(), b"}",
    ))
