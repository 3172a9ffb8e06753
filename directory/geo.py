"""Offline geography: ZIP centroids from the `zipcodes` gazetteer and great-circle miles.

Distances equal geopy's `great_circle` (same formula and Earth radius), vectorised with numpy so a
candidate set is measured in one call instead of one geopy object per listing.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

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
ZIP_TABLE_FORMAT = 1  # of the file the ZIP table is kept in between processes (zip_table_file)
T = TypeVar("T")
logger = logging.getLogger(__name__)


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


def computed_apart(function: Callable[[], T]) -> T:
    """`function()` computed in a fresh interpreter and its answer sent back (pickled).

    The `zipcodes` gazetteer keeps in memory what it has read: its whole database (~36 MB) on the
    first lookup, and every row as a Python dict (~100 MB more) once listed, for the life of the
    process. Serving processes read it this way, once, and keep only the compact tables they
    make of it. `function` is a module-level function (the child imports its module). Where no
    child can be started (a daemonic process may not have one; a system refusing to fork), it is
    computed here, at that memory's cost."""
    if multiprocessing.current_process().daemon:
        return function()
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            return pool.submit(function).result()
    except (OSError, BrokenProcessPool) as error:
        logger.warning("could not read the gazetteer in a child process (%s): reading it here", error)
        return function()


def read_zip_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """(ZIPs as numbers, ascending; latitudes; longitudes; cities; states) of every active ZIP
    with real coordinates: the gazetteer keeps decommissioned ZIPs and some with no coordinates
    (0, 0). Run apart (`computed_apart`)."""
    rows = []
    for row in zipcodes.list_all():
        lat, lon = float(row["lat"]), float(row["long"])
        if row["active"] and not (lat == 0.0 and lon == 0.0):
            rows.append((int(row["zip_code"]), lat, lon, row["city"].title(), row["state"]))
    rows.sort()
    return (np.array([r[0] for r in rows], dtype=np.int32), np.array([r[1] for r in rows]),
            np.array([r[2] for r in rows]), tuple(r[3] for r in rows), tuple(r[4] for r in rows))


def zip_table_file() -> Path:
    """Where the ZIP table is kept between processes: `DIRECTORY_CACHE_DIR`, else the user's cache
    folder; named by the gazetteer's version, so a new `zipcodes` release makes a new table."""
    folder = os.environ.get("DIRECTORY_CACHE_DIR")
    if not folder:
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ivig-directory"
    version = re.sub(r"[^0-9A-Za-z.]", "_", str(getattr(zipcodes, "__version__", "unknown")))
    return Path(folder) / f"zip-table-{version}-{ZIP_TABLE_FORMAT}.npz"


def _load_zip_table(path: Path):
    try:
        with np.load(path, allow_pickle=False) as data:
            zips, lats, lons = data["zips"], data["lats"], data["lons"]
            cities, states = tuple(data["cities"].tolist()), tuple(data["states"].tolist())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        if path.exists():
            logger.warning("ignoring the ZIP table in %s (%s): reading the gazetteer again", path, error)
        return None
    if not (len(zips) == len(lats) == len(lons) == len(cities) == len(states)) or not len(zips):
        logger.warning("ignoring the ZIP table in %s (its columns differ): reading the gazetteer again", path)
        return None
    return zips, lats, lons, cities, states


def _save_zip_table(path: Path, table) -> None:
    zips, lats, lons, cities, states = table
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as handle:
            np.savez(handle, zips=zips, lats=lats, lons=lons, cities=np.array(cities), states=np.array(states))
        os.replace(handle.name, path)  # atomic: a process reading it sees the old file or this one
    except OSError as error:
        logger.info("could not keep the ZIP table in %s (%s)", path, error)


@lru_cache(maxsize=1)
def zip_table():
    """The ZIP table, read once per process. From the file another process kept (`zip_table_file`,
    a few ms), else from the gazetteer (1-2 s, most of it starting the child that reads it; then
    kept in that file); ~4 MB in memory. A ZIP is then found by binary search (~12 us):
    `zipcodes.matching` scans all 42,000 rows, 1-2 ms."""
    path = zip_table_file()
    table = _load_zip_table(path)
    if table is None:
        table = computed_apart(read_zip_table)
        _save_zip_table(path, table)
    return table


def _lookup(zip5: str) -> ZipPlace | None:
    zips, lats, lons, cities, states = zip_table()
    number = int(zip5)
    at = int(np.searchsorted(zips, zips.dtype.type(number)))  # a Python int would copy `zips` to int64
    if at == len(zips) or zips[at] != number:
        return None
    return ZipPlace(zip5, cities[at], states[at], float(lats[at]), float(lons[at]))


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
    zips, lats, lons, cities, states = zip_table()
    return tuple(ZipPlace(f"{int(code):05d}", city, state, float(lat), float(lon))
                 for code, lat, lon, city, state in zip(zips, lats, lons, cities, states, strict=True))


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
