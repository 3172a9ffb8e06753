"""The benchmark's query mix checked against brute force over the stored coordinates.

A query's filters and text do not depend on coordinates, so the listings they admit are taken from
the engine itself with the place left out (every page); the place is then applied by brute force,
geopy's great-circle miles from each admitted listing's nearest location (its own, and for a
practitioner those of its roles), and the engine's answer
must be exactly those listings, in distance order (ties by name, then id), with those distances.
"""

from __future__ import annotations

from dataclasses import replace

from geopy.distance import great_circle
from sqlalchemy import select
from sqlmodel import Session

from bench.run import MIX, queries
from directory.db import get_engine
from directory.models import Listing, Location, Network, Role
from directory.search import get_searcher
from directory.search.ordering import name_key
from directory.search.query import SearchQuery

PAGE = 100
SLACK_MI = 1e-9  # float noise between the engine's formula and geopy's, in miles


def all_hits(searcher, query: SearchQuery) -> list:
    hits, page = [], 1
    while True:
        result = searcher.search(replace(query, page=page, per_page=PAGE, facets=False))
        hits.extend(result.hits)
        if len(hits) >= result.total or not result.hits:
            return hits
        page += 1


def mix(app, per_kind: int) -> list[SearchQuery]:
    with Session(get_engine(app)) as session:
        networks = list(session.execute(select(Network.id).order_by(Network.id)).scalars())
    return [q for kind in MIX for q in queries(kind, per_kind, networks)]


def check_mix(app, per_kind: int = 8) -> int:
    """Assert every query of the mix equals brute force; returns how many results were compared."""
    with Session(get_engine(app)) as session:
        names = dict(session.execute(select(Listing.id, Listing.name)).all())
        points: dict[int, list[tuple[float, float]]] = {}
        own = select(Location.listing_id, Location.lat, Location.lon)
        held = select(Role.practitioner_id, Location.lat, Location.lon).join(Location, Location.id == Role.location_id)
        for lid, lat, lon in [*session.execute(own), *session.execute(held)]:  # a practitioner is where it practises
            points.setdefault(lid, []).append((lat, lon))
    compared = 0
    with app.app_context():
        searcher = get_searcher(app)
        for query in mix(app, per_kind):
            got = all_hits(searcher, query)
            if query.place is None:
                continue  # no coordinates involved (typo_name)
            admitted = {hit.lid for hit in all_hits(searcher, replace(query, place=None, sort="name"))}
            centre, radius = (query.place.lat, query.place.lon), query.place.radius_mi
            distance = {lid: min(great_circle(centre, p).miles for p in points.get(lid, [])) for lid in admitted
                        if points.get(lid)}
            expected = sorted((lid for lid, miles in distance.items() if miles <= radius + SLACK_MI),
                              key=lambda lid: (distance[lid], name_key(names[lid]), lid))
            borderline = {lid for lid, miles in distance.items() if abs(miles - radius) <= SLACK_MI}
            assert [h.lid for h in got if h.lid not in borderline] == [lid for lid in expected
                                                                       if lid not in borderline], query
            for hit in got:
                assert abs(hit.distance_mi - distance[hit.lid]) <= 1e-6, (query, hit)
            compared += len(got)
    return compared
