"""The grid a search by place alone adds up (`search.postgres.cells`): every listing within the
circle is counted exactly once, by a cell wholly inside it or one by one in a cut cell, and no
listing outside is counted."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from directory.geo import EARTH_RADIUS_MI, great_circle_mi
from directory.search.ordering import area_key
from directory.search.postgres import cells


def points_around(lat: float, lon: float, radius: float, seed: int, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Points spread over a box a little wider than the circle, some of them on cell edges."""
    rng = np.random.default_rng(seed)
    span_lat = np.degrees(radius / EARTH_RADIUS_MI) * 1.3
    span_lon = min(180.0, span_lat / max(np.cos(np.radians(min(abs(lat) + span_lat, 89.9))), 1e-3))
    lats = np.clip(lat + rng.uniform(-span_lat, span_lat, n), -90, 90)
    lons = (lon + rng.uniform(-span_lon, span_lon, n) + 180) % 360 - 180
    edge = rng.random(n) < 0.2  # on a grid line, where rounding decides the cell
    lats[edge] = np.clip(np.round(lats[edge] * cells.PER_DEGREE) / cells.PER_DEGREE, -90, 90)
    lons[edge] = np.round(lons[edge] * cells.PER_DEGREE) / cells.PER_DEGREE
    return lats, lons


@settings(max_examples=60, deadline=None)
@given(lat=st.floats(-70, 75), lon=st.floats(-180, 180), radius=st.sampled_from([1, 5, 25, 50, 100, 300, 500]),
       seed=st.integers(0, 10_000))
@example(lat=51.88, lon=-176.66, radius=300, seed=1)  # Adak: the circle crosses the antimeridian
@example(lat=40.75, lon=-73.99, radius=50, seed=2)  # New York, the benchmark's metro search
def test_every_listing_in_the_circle_is_counted_once(lat, lon, radius, seed):
    cover = cells.cover(lat, lon, radius)
    inside = set(cover.inside)
    cut = {(r, c): (lo, hi) for r, c, lo, hi in zip(cover.cut_rows, cover.cut_cols, cover.cut_low,
                                                     cover.cut_high, strict=True)}
    assert len(cut) == len(cover.cut_rows)
    lats, lons = points_around(lat, lon, radius, seed)
    within = great_circle_mi(lat, lon, lats, lons) <= radius
    rows, cols = cells.fine_rc(lats, lons)
    fine, coarse = cells.fine_id(rows, cols), cells.coarse_id(rows, cols)
    keys = area_key(lats, lons)
    for i in range(len(lats)):
        by_rollup = (int(fine[i]) in inside) + (int(coarse[i]) in inside)
        assert by_rollup <= 1  # a fine cell inside a coarse one that is counted too would count twice
        if by_rollup:
            assert within[i], (lats[i], lons[i])  # a cell inside holds no point outside
            assert (int(rows[i]), int(cols[i])) not in cut
        elif within[i]:
            low, high = cut[(int(rows[i]), int(cols[i]))]  # not in a cell inside: in a cut one
            assert low <= keys[i] <= high  # and its area key is in that cell's range


def test_a_metro_costs_few_cells():
    """50 miles around New York: a few hundred cells, against tens of thousands of fine ones."""
    cover = cells.cover(40.75, -73.99, 50)
    coarse = [c for c in cover.inside if c >= cells.COARSE_BASE]
    assert coarse and len(cover.inside) < 800
    assert len(cover.cut_rows) < 400


def test_home_cells_agree_with_the_sql_formula():
    rows, cols = cells.fine_rc(np.array([40.75, -33.9, 90.0]), np.array([-73.99, 151.2, 180.0]))
    assert rows.tolist() == [int(np.floor(40.75 * 20)) + 1800, int(np.floor(-33.9 * 20)) + 1800, 3600]
    assert cols.tolist() == [int(np.floor(-73.99 * 20)) + 3600, int(np.floor(151.2 * 20)) + 3600, 7200]
    assert cells.home_cells(40.75, -73.99) == (int(cells.fine_id(rows, cols)[0]), int(cells.coarse_id(rows, cols)[0]))
