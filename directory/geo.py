"""Offline geography: ZIP centroids from the `zipcodes` gazetteer and great-circle miles.

Distances equal geopy's `great_circle` (same formula and Earth radius), vectorised with numpy so a
candidate set is measured in one call instead of one geopy object per listing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import zipcodes
from geopy.distance import EARTH_RADIUS, great_circle
from geopy.units import miles as km_to_miles

EARTH_RADIUS_MI = km_to_miles(kilometers=EARTH_RADIUS)
ZIP_PATTERN = re.compile(r"^([0-9]{5})(?:-?([0-9]{4}))?$")  # ASCII digits only
# US states and territories by their USPS codes (the `zipcodes` gazetteer uses the codes).
STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico", "GU": "Guam",
    "VI": "Virgin Islands", "AS": "American Samoa", "MP": "Northern Mariana Islands",
}
MAX_RADIUS_MI = 500.0


@dataclass(frozen=True)
class ZipPlace:
    zip: str
    city: str
    state: str
    lat: float
    lon: float


class ZipError(ValueError):
    """A ZIP code that is malformed or not in the gazetteer."""


def normalize_zip(text: str) -> str:
    """Return the 5-digit ZIP of a ZIP or ZIP+4 ('02115', '02115-1234', '021151234')."""
    match = ZIP_PATTERN.match((text or "").strip())
    if not match:
        raise ZipError("a ZIP code is 5 digits, or ZIP+4 like 02115-1234")
    return match.group(1)


@lru_cache(maxsize=65536)
def _lookup(zip5: str) -> ZipPlace | None:
    for row in zipcodes.matching(zip5):
        lat, lon = float(row["lat"]), float(row["long"])
        # The gazetteer keeps decommissioned ZIPs and some with no coordinates (0, 0).
        if row["active"] and not (lat == 0.0 and lon == 0.0):
            return ZipPlace(zip5, row["city"].title(), row["state"], lat, lon)
    return None


def lookup_zip(text: str) -> ZipPlace:
    """Centroid of a ZIP or ZIP+4; raises ZipError when malformed, unknown or decommissioned."""
    zip5 = normalize_zip(text)
    place = _lookup(zip5)
    if place is None:
        raise ZipError(f"ZIP code {zip5} is not an active US ZIP code we can locate")
    return place


def is_known_zip(text: str) -> bool:
    try:
        lookup_zip(text)
    except ZipError:
        return False
    return True


@lru_cache(maxsize=1)
def active_zip_places() -> tuple[ZipPlace, ...]:
    """Every active ZIP with real coordinates (about 41,000), for the demo generator."""
    places = []
    for row in zipcodes.list_all():
        lat, lon = float(row["lat"]), float(row["long"])
        if row["active"] and not (lat == 0.0 and lon == 0.0):
            places.append(ZipPlace(row["zip_code"], row["city"].title(), row["state"], lat, lon))
    return tuple(places)


def great_circle_mi(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Great-circle miles from one point to arrays of points, as geopy's `great_circle`."""
    lat1, lng1 = np.radians(lat), np.radians(lon)
    lat2, lng2 = np.radians(lats), np.radians(lons)
    sin_lat1, cos_lat1 = np.sin(lat1), np.cos(lat1)
    sin_lat2, cos_lat2 = np.sin(lat2), np.cos(lat2)
    delta = lng2 - lng1
    cos_delta, sin_delta = np.cos(delta), np.sin(delta)
    d = np.arctan2(
        np.sqrt((cos_lat2 * sin_delta) ** 2 + (cos_lat1 * sin_lat2 - sin_lat1 * cos_lat2 * cos_delta) ** 2),
        sin_lat1 * sin_lat2 + cos_lat1 * cos_lat2 * cos_delta,
    )
    return EARTH_RADIUS_MI * d


def geopy_miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Reference distance used by tests and the naive baseline."""
    return great_circle(a, b).miles


def bounding_box(lat: float, lon: float, radius_mi: float) -> tuple[float, float, float, float]:
    """A lat/lon box that contains every point within `radius_mi` (degrees; may cross ±180)."""
    dlat = np.degrees(radius_mi / EARTH_RADIUS_MI)
    min_lat, max_lat = lat - dlat, lat + dlat
    if max_lat >= 90 or min_lat <= -90:
        return max(min_lat, -90.0), min(max_lat, 90.0), -180.0, 180.0
    # Widest longitude span of the circle is at the latitude nearest a pole within the box.
    dlon = np.degrees(
        np.arcsin(min(1.0, np.sin(radius_mi / EARTH_RADIUS_MI) / np.cos(np.radians(lat))))
    )
    return min_lat, max_lat, lon - dlon, lon + dlon
