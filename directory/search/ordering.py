"""What both backends order listings by: a sort key for names, places as points on the unit
sphere (the chord between two points orders them as great-circle distance does), and the area key
(latitude band, then longitude) that keeps the listings of one area together, with the runs of it
a circle covers."""

from __future__ import annotations

import functools
import math

import numpy as np

from directory.geo import EARTH_RADIUS_MI

NAME_KEY_BYTES = 48


def name_key(name: str) -> bytes:
    """Sort key for names: case-folded, accents kept as UTF-8, first NAME_KEY_BYTES bytes."""
    return name.casefold().encode("utf-8")[:NAME_KEY_BYTES]


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(m, 3) points on the unit sphere: chord length orders points as great-circle distance does."""
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)))


# -- the area key: latitude band, then longitude ------------------------------------------------------
# Both backends keep the listings of one area together in (latitude band, longitude) order, so that
# the listings around a point are a few runs of that order, one per band the circle crosses.
BANDS_PER_DEGREE = 10  # a band is a tenth of a degree of latitude, about 7 miles
BANDS = 180 * BANDS_PER_DEGREE + 1  # band 0 starts at -90; the last holds latitude 90 itself
BAND_KEY_SPAN = 512.0  # more than the 360 degrees of longitude a band's keys take (see area_key)


def band_of(lat: np.ndarray) -> np.ndarray:
    """The latitude band of each latitude (0 .. BANDS - 1)."""
    return np.clip(np.floor(lat * BANDS_PER_DEGREE).astype(np.int64) + 90 * BANDS_PER_DEGREE, 0, BANDS - 1)


def area_key(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Band and longitude as one ascending number: band x BAND_KEY_SPAN + longitude + 180.

    Rounding is monotonic, so no point inside a box falls outside the box's key ranges (one just
    outside may come in; the radius test decides)."""
    return band_of(lat) * BAND_KEY_SPAN + (np.asarray(lon, dtype=np.float64) + 180.0)


INNER_MARGIN_DEG = 1e-6  # the part of a band taken as wholly inside stops this far short of the edge


def _half_widths(lat_deg: np.ndarray, lat: float, angle: float) -> np.ndarray:
    """Half the longitude span (degrees) of a circle of `angle` radians around latitude `lat` at
    latitudes `lat_deg`, none of them a pole (a point at such a latitude is inside iff its
    longitude is within it)."""
    # The haversine form: hav(dlon) = (hav(angle) - hav(dlat)) / (cos lat cos lat0). The cosine
    # form (arccos of a value near 1) lost about 3e-6 degrees near a small circle's top and bottom
    # at high latitudes, more than the inner margin: a middle part then held points outside.
    phi, phi0 = np.radians(lat_deg), math.radians(lat)
    h = (math.sin(angle / 2) ** 2 - np.sin((phi - phi0) / 2) ** 2) / (np.cos(phi) * math.cos(phi0))
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0, out=h))))


@functools.lru_cache(maxsize=4096)
def area_ranges(lat: float, lon: float, radius_mi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The listings' area keys (`area_key`) around a circle: (low, high, edge) arrays of half-open
    ranges [low, high), ascending and disjoint, one to three per latitude band it crosses (split
    at ±180). Per band, the longitudes the circle reaches anywhere in the band; where `edge` is
    false, the middle part every latitude of the band has wholly inside the circle (its points
    need no radius test, only their distance).

    Kept for the last few thousand circles (a search names a ZIP code and a radius, whose
    geometry is the same every time; working it out takes 35-49 us): the arrays returned are
    read-only."""
    low, high, edge = _area_ranges(lat, lon, radius_mi)
    for array in (low, high, edge):
        array.setflags(write=False)
    return low, high, edge


def _area_ranges(lat: float, lon: float, radius_mi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    angle = radius_mi / EARTH_RADIUS_MI
    dlat = math.degrees(angle)
    south_end, north_end = max(lat - dlat, -90.0), min(lat + dlat, 90.0)
    first, last = (min(max(math.floor(x * BANDS_PER_DEGREE) + 90 * BANDS_PER_DEGREE, 0), BANDS - 1)
                   for x in (lat - dlat, lat + dlat))  # as band_of
    count = last - first + 1
    limits = (np.arange(first, last + 2) - 90 * BANDS_PER_DEGREE) / BANDS_PER_DEGREE
    south, north = np.maximum(limits[:-1], south_end), np.minimum(limits[1:], north_end)
    if lat + dlat >= 90 or lat - dlat <= -90:  # the circle holds a pole: every longitude
        outer, inner = np.full(count, 180.0), np.zeros(count)
    else:
        # The half-width grows toward the latitude where the circle is widest, then shrinks: its
        # largest value in a band is there or at the band's edge nearest it, its least at an edge.
        widest = math.degrees(math.asin(min(1.0, max(-1.0, math.sin(math.radians(lat)) / math.cos(angle)))))
        widths = _half_widths(np.concatenate([south, north, np.clip(widest, south, north)]), lat, angle)
        at_south, at_north, at_widest = widths[:count], widths[count : 2 * count], widths[2 * count :]
        outer = np.maximum(at_widest, np.maximum(at_south, at_north)) * (1 + 1e-9) + 1e-9
        # (Zero in a band the circle's top or bottom runs through.)
        inner = np.minimum(at_south, at_north) - INNER_MARGIN_DEG
    base = np.arange(first, last + 1) * BAND_KEY_SPAN + 180.0
    widest_reach = float(outer.max())
    if lon - widest_reach >= -180 and lon + widest_reach < 180:
        # Per band: west edge, middle, east edge (a band without a middle: one run, at the edge).
        middle = inner > 0
        low = np.empty((count, 3))
        high = np.empty((count, 3))
        low[:, 0], low[:, 1], low[:, 2] = base + (lon - outer), base + (lon - inner), base + (lon + inner)
        high[:, 0] = base + np.where(middle, lon - inner, lon + outer)
        high[:, 1], high[:, 2] = low[:, 2], base + (lon + outer)
        keep = np.empty((count, 3), dtype=bool)
        keep[:, 0], keep[:, 1], keep[:, 2] = True, middle, middle
        return low[keep], high[keep], _EDGE_PATTERN[: count][keep]
    return _ranges_round_the_world(lon, base, outer, inner)


_EDGE_PATTERN = np.tile(np.array([True, False, True]), (BANDS, 1))


def _ranges_round_the_world(lon: float, base: np.ndarray, outer: np.ndarray,
                            inner: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`area_ranges` for a circle that reaches ±180: runs past it come round from the other side."""
    lows, highs, edges = [], [], []
    for start, out, inn in zip(base.tolist(), outer.tolist(), inner.tolist(), strict=True):
        out = min(out, 180.0)
        if inn > 0:
            parts = [(lon - out, lon - inn, True), (lon - inn, lon + inn, False), (lon + inn, lon + out, True)]
        else:
            parts = [(lon - out, lon + out, True)]
        for west, east, edge in parts:
            for lo, hi in lon_pieces(west, east):
                lows.append(start + lo)
                # A range to 180 takes 180 itself (the outer ends have a margin beyond the circle).
                highs.append(np.nextafter(start + 180.0, np.inf) if hi >= 180 else start + hi)
                edges.append(edge)
    low, high, edge = np.array(lows), np.array(highs), np.array(edges, dtype=bool)
    order = np.argsort(low, kind="stable")
    return low[order], high[order], edge[order]


def lon_pieces(west: float, east: float) -> list[tuple[float, float]]:
    """[west, east], longitudes that may run past ±180 (as `geo.bounding_box` gives them), as
    pieces within ±180: one or two."""
    if -180 <= west and east <= 180:
        return [(west, east)]
    if east - west >= 360:
        return [(-180.0, 180.0)]
    if west < -180:
        return [(-180.0, east), (west + 360, 180.0)] if east > -180 else [(west + 360, east + 360)]
    return [(west, 180.0), (-180.0, east - 360)] if west < 180 else [(west - 360, east - 360)]
