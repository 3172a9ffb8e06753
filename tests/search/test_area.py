"""The area key both backends keep listings in (`search.ordering`): the runs of keys around a
circle hold every point within it, and the runs marked wholly inside hold no point outside."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from directory.geo import EARTH_RADIUS_MI, great_circle_mi
from directory.search.ordering import BANDS_PER_DEGREE, area_key, area_ranges


def points_around(lat: float, lon: float, radius: float, seed: int, n: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """Points over a box a little wider than the circle, many of them just on or off its edge or
    on a band's edge."""
    rng = np.random.default_rng(seed)
    angle = radius / EARTH_RADIUS_MI
    bearing = rng.uniform(0, 2 * np.pi, n)
    # Half near the edge (within 0.1%), half anywhere out to 1.3 radii.
    reach = np.where(rng.random(n) < 0.5, angle * rng.uniform(0.999, 1.001, n), angle * rng.uniform(0, 1.3, n))
    phi0, lam0 = np.radians(lat), np.radians(lon)
    phi = np.arcsin(np.sin(phi0) * np.cos(reach) + np.cos(phi0) * np.sin(reach) * np.cos(bearing))
    lam = lam0 + np.arctan2(np.sin(bearing) * np.sin(reach) * np.cos(phi0),
                            np.cos(reach) - np.sin(phi0) * np.sin(phi))
    lats, lons = np.degrees(phi), (np.degrees(lam) + 180) % 360 - 180
    on_band = rng.random(n) < 0.1
    lats[on_band] = np.round(lats[on_band] * BANDS_PER_DEGREE) / BANDS_PER_DEGREE
    return lats, lons


@settings(max_examples=80, deadline=None)
@given(lat=st.floats(-89, 89), lon=st.floats(-180, 180), radius=st.sampled_from([1, 3, 25, 50, 100, 300, 500]),
       seed=st.integers(0, 10_000))
@example(lat=51.88, lon=-176.66, radius=300, seed=1)  # Adak: across the antimeridian
@example(lat=71.29, lon=-156.79, radius=500, seed=3)  # Utqiagvik: near the pole
@example(lat=40.75, lon=-73.99, radius=100, seed=2)
@example(lat=64.0, lon=179.99, radius=25, seed=4)
@example(lat=70.44710285198454, lon=73.73773583113729, radius=1, seed=30)  # a small circle far north
def test_runs_hold_the_circle_and_inner_runs_nothing_outside(lat, lon, radius, seed):
    low, high, edge = area_ranges(lat, lon, radius)
    assert (low[1:] >= high[:-1]).all() and (low < high).all()  # ascending, disjoint, not empty
    lats, lons = points_around(lat, lon, radius, seed)
    keys = area_key(lats, lons)
    run = np.searchsorted(low, keys, side="right") - 1
    found = (run >= 0) & (keys < high[np.maximum(run, 0)])
    within = great_circle_mi(lat, lon, lats, lons) <= radius
    assert found[within].all(), list(zip(lats[within & ~found], lons[within & ~found], strict=True))
    inner = found & ~edge[np.maximum(run, 0)]
    assert within[inner].all(), list(zip(lats[inner & ~within], lons[inner & ~within], strict=True))


def test_most_of_a_metro_needs_no_radius_test():
    """100 miles around New York: the runs reach little beyond the circle, and the bands' middle
    parts, where a listing is inside without a test, are most of it."""
    low, high, edge = area_ranges(40.75, -73.99, 100)
    width = high - low
    assert width[~edge].sum() > 2 * width[edge].sum()
