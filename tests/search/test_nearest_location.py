"""A hit carries its listing's location nearest to the place searched: the same on both backends,
and the one a card used to compute from every place (fewest miles, then the lowest location id)."""

from __future__ import annotations

from collections import defaultdict

import pytest
from sqlalchemy import select
from sqlmodel import Session

from directory.db import get_engine
from directory.geo import great_circle_mi
from directory.models import Location, Role
from directory.search import get_searcher
from tests.search.test_backends_agree import pair, place_alone, queries  # noqa: F401  (pair: a fixture)

pytestmark = pytest.mark.backends("postgres")  # needs the server; compares against Whoosh itself


def places_by_listing(app) -> dict[int, list[tuple[int, float, float]]]:
    """Each listing's places as (location id, lat, lon): its own, then its roles'."""
    places: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    with Session(get_engine(app)) as session:
        for lid, loc_id, lat, lon in session.execute(
                select(Location.listing_id, Location.id, Location.lat, Location.lon)):
            places[lid].append((loc_id, lat, lon))
        for pid, loc_id, lat, lon in session.execute(
                select(Role.practitioner_id, Location.id, Location.lat, Location.lon)
                .join(Location, Location.id == Role.location_id)):
            places[pid].append((loc_id, lat, lon))
    return places


def test_both_backends_name_the_nearest_location(pair):  # noqa: F811
    whoosh, pg = pair
    places = places_by_listing(pg)
    several = 0
    with whoosh.app_context(), pg.app_context():
        for query in [*queries(pg, 150, seed=5), *place_alone(60, seed=5)]:
            a, b = get_searcher(whoosh).search(query), get_searcher(pg).search(query)
            assert [h.location_id for h in b.hits] == [h.location_id for h in a.hits], repr(query)
            for hit in a.hits:
                if query.place is None:
                    assert hit.location_id is None
                    continue
                own = places[hit.lid]
                miles = great_circle_mi(query.place.lat, query.place.lon,
                                        [p[1] for p in own], [p[2] for p in own]).tolist()
                assert hit.location_id == min(zip(miles, [p[0] for p in own], strict=True))[1], repr(query)
                assert hit.distance_mi == pytest.approx(min(miles), abs=1e-9)
                several += len(own) > 1
    assert several > 50  # listings with several places were compared, not only single ones
