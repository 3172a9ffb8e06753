"""What both backends order listings by: a sort key for names, and places as points on the unit
sphere (the chord between two points orders them as great-circle distance does)."""

from __future__ import annotations

import functools

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


def _half_width(phi: np.ndarray, phi0: float, angle: float) -> np.ndarray:
    """Half the longitude span (radians) of a circle of `angle` radians around latitude `phi0` at
    latitudes `phi` (a point at that latitude is inside iff its longitude is within it)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (np.cos(angle) - np.sin(phi) * np.sin(phi0)) / (np.cos(phi) * np.cos(phi0))
    return np.arccos(np.clip(np.nan_to_num(c, nan=1.0), -1.0, 1.0))


@functools.lru_cache(maxsize=4096)
def area_ranges(lat: float, lon: float, radius_mi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The listings' area keys (`area_key`) around a circle: (low, high, edge) arrays of half-open
    ranges [low, high), ascending and disjoint, one to three per latitude band it crosses (split
    at ±180). Per band, the longitudes the circle reaches anywhere in the band; where `edge` is
    false, the middle part every latitude of the band has wholly inside the circle (its points
    need no radius test, only their distance).

    Kept for the last few thousand circles (a search names a ZIP code and a radius; their
    geometry is the same every time, and working it out is about a hundred small numpy calls,
    80-190 us): the arrays returned are read-only."""
    low, high, edge = _area_ranges(lat, lon, radius_mi)
    for array in (low, high, edge):
        array.setflags(write=False)
    return low, high, edge


def _area_ranges(lat: float, lon: float, radius_mi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    angle = radius_mi / EARTH_RADIUS_MI
    phi0 = np.radians(lat)
    dlat = np.degrees(angle)
    first, last = (int(b) for b in band_of(np.array([lat - dlat, lat + dlat])))
    bands = np.arange(first, last + 1)
    south = np.maximum((bands - 90 * BANDS_PER_DEGREE) / BANDS_PER_DEGREE, max(lat - dlat, -90.0))
    north = np.minimum((bands + 1 - 90 * BANDS_PER_DEGREE) / BANDS_PER_DEGREE, min(lat + dlat, 90.0))
    if lat + dlat >= 90 or lat - dlat <= -90:  # the circle holds a pole: every longitude
        outer = np.full(len(bands), 180.0)
        inner = np.zeros(len(bands))
    else:
        # The half-width grows toward the latitude where the circle is widest, then shrinks: its
        # largest value in a band is there or at the band's edge nearest it, its least at an edge.
        widest = np.degrees(np.arcsin(np.clip(np.sin(phi0) / np.cos(angle), -1.0, 1.0)))
        ends = np.radians(np.stack([south, north]))
        at_ends = _half_width(ends, phi0, angle)
        at_widest = _half_width(np.radians(np.clip(widest, south, north)), phi0, angle)
        outer = np.degrees(np.maximum(at_widest, at_ends.max(axis=0))) * (1 + 1e-9) + 1e-9
        # (Zero in a band the circle's top or bottom runs through.)
        inner = np.degrees(at_ends.min(axis=0)) - INNER_MARGIN_DEG
    base = bands * BAND_KEY_SPAN + 180.0
    if lon - outer.max() >= -180 and lon + outer.max() < 180:
        # Per band: west edge, middle, east edge (a band without a middle: one run, at the edge).
        middle = inner > 0
        west_end = np.where(middle, lon - inner, lon + outer)
        low = np.column_stack([lon - outer, lon - inner, lon + inner]) + base[:, None]
        high = np.column_stack([west_end, lon + inner, lon + outer]) + base[:, None]
        keep = np.column_stack([np.ones(len(bands), dtype=bool), middle, middle])
        edge = np.broadcast_to(np.array([True, False, True]), keep.shape)
        return low[keep], high[keep], edge[keep]
    return _ranges_round_the_world(lon, base, outer, inner)


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
            for lo, hi in ((west, east),) if -180 <= west and east <= 180 else _wrapped(west, east):
                lows.append(start + lo)
                # A range to 180 takes 180 itself (the outer ends have a margin beyond the circle).
                highs.append(np.nextafter(start + 180.0, np.inf) if hi >= 180 else start + hi)
                edges.append(edge)
    low, high, edge = np.array(lows), np.array(highs), np.array(edges, dtype=bool)
    order = np.argsort(low, kind="stable")
    return low[order], high[order], edge[order]


def _wrapped(west: float, east: float) -> list[tuple[float, float]]:
    """[west, east) as longitudes within ±180: one or two pieces."""
    if east - west >= 360:
        return [(-180.0, 180.0)]
    if west < -180:
        return [(-180.0, east), (west + 360, 180.0)] if east > -180 else [(west + 360, east + 360)]
    return [(west, 180.0), (-180.0, east - 360)] if west < 180 else [(west - 360, east - 360)]
