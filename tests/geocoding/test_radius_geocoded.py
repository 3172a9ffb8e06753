"""The radius property tests over geocoded data, on both backends: every location at its own street
point (spread within its ZIP) instead of sharing the ZIP's centroid.

The data set: tests/search/test_radius.py's listings at about 60 ZIPs, placed by the real worker
against the loopback geocoder (so through the write path and the outbox), demo listings seeded
with `--geocoded` points and built into the snapshot by `reindex`, and more listings geocoded after
it (the overlay). Searches go through the JSON API (tests/search/test_radius.World) and the
benchmark's query mix through the searcher (tests/geocoding/mix.py), both against brute force.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import Session

from directory import demo
from directory.db import get_engine
from directory.geocoding.addresses import location_hash
from directory.models import Listing, Location, Role
from directory.search import rebuild_index
from tests.backends import BACKENDS, close_app, make_app
from tests.factories import Factory
from tests.geocoding.apps import run_queue
from tests.geocoding.mix import check_mix
from tests.geocoding.server import LoopbackGeocoder
from tests.search.helpers import report
from tests.search.test_radius import CENTRES, WORDS, ZIP_PLACES, ZIPS, World, assert_matches_brute_force


class GeocodedWorld(World):
    """test_radius's World, whose brute force also counts a practitioner at its roles' locations
    (the demo listings have roles; that module's listings have none)."""

    def places(self) -> dict[int, tuple[str, list[tuple[float, float]]]]:
        found = super().places()
        with Session(self.engine) as session:
            held = session.execute(select(Role.practitioner_id, Location.lat, Location.lon)
                                   .join(Location, Location.id == Role.location_id)
                                   .join(Listing, Listing.id == Role.practitioner_id)
                                   .where(Listing.active.is_(True))).all()
            names = dict(session.execute(select(Listing.id, Listing.name)).all())
        for lid, lat, lon in held:
            found.setdefault(lid, (names[lid], []))[1].append((lat, lon))
        return found


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory):
    backend = request.param
    server = request.getfixturevalue("postgres_server") if backend == "postgres" else None
    with LoopbackGeocoder(synthesise=True) as geocoder:
        app = make_app(backend, tmp_path_factory.mktemp("geocoded"), server, **geocoder.config())
        session = Session(get_engine(app), expire_on_commit=False)
        factory = Factory(app, session)

        def make(i: int):
            kind = "practitioner" if i % 5 == 4 else "organization"
            zips = [ZIPS[i % len(ZIPS)]] + ([ZIPS[(i * 7 + 3) % len(ZIPS)]] if i % 9 == 0 else [])
            return factory.listing(sync=False, kind=kind, name=f"{WORDS[i % len(WORDS)]} Infusion {i}", zips=zips)

        for i in range(90):
            make(i)
        assert run_queue(app).placed > 90
        with app.app_context():
            demo.generate(get_engine(app), count=200, seed=5, geocoded=True)
            rebuild_index(app)  # the snapshot holds these
        for i in range(90, 130):
            make(i)
        assert run_queue(app).placed >= 40  # the overlay
        with Session(get_engine(app)) as db:
            assert db.execute(select(func.count()).select_from(Location)
                              .where(Location.geo_source != "geocoder")).scalar_one() == 0
            rows = db.execute(select(Location)).scalars().all()
        # One point per address (the factory puts many listings at "1 Main St" of a ZIP).
        assert len({(row.lat, row.lon) for row in rows}) == len({location_hash(row) for row in rows}) > 200
        assert report(app).ok
        yield GeocodedWorld(app, session, factory)
        session.close()
        close_app(app)


@pytest.mark.parametrize("radius", [1, 10, 60])
def test_zip_centres_match_brute_force(world, radius):
    for place in ZIP_PLACES:
        expected = world.expected(place.lat, place.lon, radius)
        _, results = world.fetch_all(zip=place.zip, radius=str(radius))
        assert [(r["id"], r["distance_mi"]) for r in results] == expected, (place.zip, radius)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(centre=st.sampled_from(CENTRES), dlat=st.floats(-0.5, 0.5), dlon=st.floats(-0.5, 0.5),
       radius=st.floats(1, 300))
def test_random_centres_match_brute_force(world, centre, dlat, dlon, radius):
    lat = max(-90.0, min(90.0, centre[0] + dlat))
    lon = ((centre[1] + dlon + 180.0) % 360.0) - 180.0
    assert_matches_brute_force(world, lat, lon, radius)


def test_the_benchmark_mix_matches_brute_force(world):
    assert check_mix(world.app, per_kind=6) > 50
