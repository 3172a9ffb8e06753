"""What both backends order listings by: a sort key for names, and places as points on the unit
sphere (the chord between two points orders them as great-circle distance does)."""

from __future__ import annotations

import numpy as np

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


def area_ranges(min_lat: float, max_lat: float, min_lon: float, max_lon: float) -> tuple[np.ndarray, np.ndarray]:
    """The (low, high) area keys, ascending and inclusive, of a lat/lon box (longitudes may run
    past ±180 as `geo.bounding_box` gives them): one range per band and longitude range."""
    lon_ranges = [(min_lon, max_lon)]
    if min_lon < -180:
        lon_ranges = [(-180.0, max_lon), (min_lon + 360, 180.0)]
    elif max_lon > 180:
        lon_ranges = [(-180.0, max_lon - 360), (min_lon, 180.0)]
    first, last = (int(b) for b in band_of(np.array([min_lat, max_lat])))
    base = np.arange(first, last + 1) * BAND_KEY_SPAN + 180.0
    low = np.column_stack([base + lo for lo, _ in lon_ranges]).ravel()
    high = np.column_stack([base + hi for _, hi in lon_ranges]).ravel()
    return low, high
