"""The grid that a search by place alone adds up: what a circle covers, cell by cell.

`search_rollup` counts the listings at home in each cell of two grids: fine cells of 1/20 degree
(about 3.5 by 2.6 miles at 40° north) and coarse cells of 10 x 10 fine ones. A search by place
alone adds up the rollup of the cells wholly inside its circle (coarse ones where they fit, fine
ones along the edge) and counts one by one only the listings at home in the fine cells the edge
cuts. With a listing at every street point, a metro's 100,000 points then cost a few hundred rollup
cells and a few thousand listings instead of a rollup row per point.

Cell ids are computed the same way here (numpy) and in SQL (`CELL_SQL`): floor(lat x 20) and
floor(lon x 20) of float8 values, so both always agree on a listing's cell.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from directory.geo import EARTH_RADIUS_MI, bounding_box
from directory.search.ordering import BAND_KEY_SPAN, band_of, lon_pieces, unit_vectors

PER_DEGREE = 20  # fine cells per degree of latitude and of longitude
COARSE = 10  # fine cells per coarse cell, each way
LON_SPAN = 8192  # more than the 7,201 fine columns from -180 to 180
COARSE_BASE = 1 << 30  # coarse cell ids start here (fine ids stay below 3,601 x LON_SPAN)
EDGE = 1e-7  # relative margin in the corner test: a cell this close to the edge counts as cut

# A fine cell's row and column in SQL, for columns `lat` and `lon` of alias `{a}`.
FINE_ROW_SQL = f"(floor({{a}}.lat * {PER_DEGREE})::int + {90 * PER_DEGREE})"
FINE_COL_SQL = f"(floor({{a}}.lon * {PER_DEGREE})::int + {180 * PER_DEGREE})"


def fine_rc(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each point's fine cell (floor of degrees x PER_DEGREE, from 0)."""
    rows = np.floor(np.asarray(lat, dtype=np.float64) * PER_DEGREE).astype(np.int64) + 90 * PER_DEGREE
    cols = np.floor(np.asarray(lon, dtype=np.float64) * PER_DEGREE).astype(np.int64) + 180 * PER_DEGREE
    return rows, cols


def fine_id(rows, cols):
    return rows * LON_SPAN + cols


def coarse_id(rows, cols):
    return COARSE_BASE + (rows // COARSE) * LON_SPAN + cols // COARSE


def home_cells(lat: float, lon: float) -> tuple[int, int]:
    """The fine and the coarse cell a listing at home at (lat, lon) is counted in."""
    rows, cols = fine_rc(np.array([lat]), np.array([lon]))
    return int(fine_id(rows, cols)[0]), int(coarse_id(rows, cols)[0])


# The same ids in SQL (alias `a`), for the drift check that recounts the rollup from the rows.
CELL_SQL = {
    "fine": f"{FINE_ROW_SQL} * {LON_SPAN} + {FINE_COL_SQL}",
    "coarse": f"{COARSE_BASE} + ({FINE_ROW_SQL} / {COARSE}) * {LON_SPAN} + {FINE_COL_SQL} / {COARSE}",
}


class Cover(NamedTuple):
    """What a circle covers: the ids of cells wholly inside it (coarse and fine, none inside
    another), and the fine cells its edge cuts as (row, column, low key, high key) arrays: the
    area keys (`ordering.area_key`) between which that cell's listings lie."""

    inside: np.ndarray
    cut_rows: np.ndarray
    cut_cols: np.ndarray
    cut_low: np.ndarray
    cut_high: np.ndarray


def _classify(lat: float, lon: float, radius_mi: float, rows: np.ndarray, cols: np.ndarray,
              size: int) -> tuple[np.ndarray, np.ndarray]:
    """(inside, maybe) masks for cells of `size` fine cells each way whose first fine cell is at
    (rows, cols): inside when its four corners are within the radius (the farthest point of a
    lat/lon rectangle from a point is a corner), out of reach when even its nearest point must be
    farther (centre distance minus half its diagonal), else cut."""
    angle = radius_mi / EARTH_RADIUS_MI
    centre = unit_vectors(np.array([lat]), np.array([lon]))[0]

    def angles(lat_deg, lon_deg):
        chord = np.linalg.norm(unit_vectors(lat_deg.ravel(), lon_deg.ravel()) - centre, axis=1)
        return (2 * np.arcsin(np.minimum(chord / 2, 1.0))).reshape(lat_deg.shape)

    lat0 = (rows - 90 * PER_DEGREE) / PER_DEGREE
    lon0 = (cols - 180 * PER_DEGREE) / PER_DEGREE
    step = size / PER_DEGREE
    corner_lat = np.stack([lat0, lat0, lat0 + step, lat0 + step])
    corner_lon = np.stack([lon0, lon0 + step, lon0, lon0 + step])
    corners = angles(np.clip(corner_lat, -90, 90), corner_lon)
    inside = (corners <= angle * (1 - EDGE)).all(axis=0)
    mid = angles(np.clip(lat0 + step / 2, -90, 90), lon0 + step / 2)
    # The farthest corner from the cell's middle bounds the distance from it to any point of the cell.
    mid_xyz = unit_vectors(np.clip(lat0 + step / 2, -90, 90), lon0 + step / 2)
    half = np.max([2 * np.arcsin(np.minimum(np.linalg.norm(
        unit_vectors(np.clip(corner_lat[i], -90, 90), corner_lon[i]) - mid_xyz, axis=1) / 2, 1.0))
        for i in range(4)], axis=0)
    maybe = ~inside & (mid - half <= angle * (1 + EDGE))
    return inside, maybe


def _span(low: float, high: float, size: int) -> np.ndarray:
    """First fine indices (multiples of `size`) of the cells of `size` covering [low, high] fine units."""
    first = int(np.floor(low * PER_DEGREE)) // size * size
    last = int(np.floor(high * PER_DEGREE)) // size * size
    return np.arange(first, last + 1, size)


@functools.lru_cache(maxsize=256)
def cover(lat: float, lon: float, radius_mi: float) -> Cover:
    """The cells of the circle: coarse cells first, fine cells within the coarse cells it cuts.

    Kept for the last 256 circles, as `ordering.area_ranges` (working it out takes 1-2 ms, about
    a tenth of a search by place alone at 1M; a kept cover holds read-only arrays of 9 KB for 50
    miles, 100 KB for 500)."""
    found = _cover(lat, lon, radius_mi)
    for array in found:
        array.setflags(write=False)
    return found


def _cover(lat: float, lon: float, radius_mi: float) -> Cover:
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_mi)
    lat_idx = _span(min_lat, max_lat, COARSE) + 90 * PER_DEGREE
    lon_idx = np.concatenate([_span(lo, hi, COARSE) for lo, hi in lon_pieces(min_lon, max_lon)]) + 180 * PER_DEGREE
    rows, cols = (a.ravel() for a in np.meshgrid(lat_idx, np.unique(lon_idx), indexing="ij"))
    inside, maybe = _classify(lat, lon, radius_mi, rows, cols, COARSE)
    found = [coarse_id(rows[inside], cols[inside])]
    # The fine cells of the coarse cells the edge cuts.
    offsets = np.arange(COARSE)
    fine_rows = (rows[maybe][:, None, None] + offsets[None, :, None]).repeat(COARSE, axis=2).ravel()
    fine_cols = (cols[maybe][:, None, None] + offsets[None, None, :]).repeat(COARSE, axis=1).ravel()
    keep = (fine_rows <= 180 * PER_DEGREE) & (fine_cols <= 360 * PER_DEGREE)
    fine_rows, fine_cols = fine_rows[keep], fine_cols[keep]
    inside, maybe = _classify(lat, lon, radius_mi, fine_rows, fine_cols, 1)
    found.append(fine_id(fine_rows[inside], fine_cols[inside]))
    cut_rows, cut_cols = fine_rows[maybe], fine_cols[maybe]
    # A fine cell lies within one latitude band (a band is two fine rows): its listings' area keys
    # run from its west edge to its east edge in that band (a little more either side, for rounding).
    band = band_of((cut_rows - 90 * PER_DEGREE + 0.5) / PER_DEGREE)
    west = (cut_cols - 180 * PER_DEGREE) / PER_DEGREE
    base = band * BAND_KEY_SPAN + 180.0
    return Cover(np.concatenate(found), cut_rows, cut_cols, base + west - 1e-6, base + west + 1 / PER_DEGREE + 1e-6)
