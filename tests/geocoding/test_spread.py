"""Demo points spread within each ZIP (`seed-demo --geocoded`): deterministic, near the centroid,
and marked as placed by no real geocoder, so `geocode` leaves them alone."""

from __future__ import annotations

from geopy.distance import great_circle
from sqlalchemy import select
from sqlmodel import Session

from directory.db import get_engine
from directory.geo import lookup_zip
from directory.geocoding.addresses import location_hash
from directory.geocoding.spread import SPREAD_MI, spread_point
from directory.models import GeocodeTask, Location
from tests.geocoding.apps import run_queue


def test_spread_points_are_fixed_by_their_key_and_near_the_centre():
    centres = [(42.3429, -71.1003), (64.8378, -147.7164), (18.4655, -66.1057), (51.88, -176.65)]
    seen = set()
    for lat, lon in centres:
        for i in range(200):
            point = spread_point(f"key {i}", lat, lon)
            assert point == spread_point(f"key {i}", lat, lon)
            assert great_circle((lat, lon), point).miles <= SPREAD_MI + 1e-3
            seen.add(point)
    assert len(seen) == 800


def test_seed_demo_geocoded_marks_its_points_and_geocode_leaves_them(geo_app, loopback):
    runner = geo_app.test_cli_runner()
    with geo_app.app_context():
        result = runner.invoke(args=["seed-demo", "--count", "40", "--geocoded"])
    assert result.exit_code == 0, result.output
    with Session(get_engine(geo_app)) as session:
        rows = session.execute(select(Location)).scalars().all()
    assert rows and all((row.geo_source, row.geocoder, row.geo_quality) == ("geocoder", "demo-spread", "synthetic")
                        for row in rows)
    assert all(row.address_hash == location_hash(row) for row in rows)
    assert all(0 < great_circle((row.lat, row.lon), spread_centre(row)).miles <= SPREAD_MI + 1e-3 for row in rows)
    done = run_queue(geo_app)
    assert (done.queued, done.placed) == (0, 0) and not loopback.received
    with Session(get_engine(geo_app)) as session:
        assert session.execute(select(GeocodeTask)).first() is None


def spread_centre(row):
    place = lookup_zip(row.zip)
    return place.lat, place.lon
