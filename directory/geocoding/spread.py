"""Deterministic points spread around a ZIP's centroid, for demo data and benchmarks that need
every location at its own point without a geocoder (`seed-demo --geocoded`)."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime

from directory.geocoding.addresses import address_hash

SPREAD_MI = 1.5  # largest distance from the centroid, miles
MILES_PER_DEGREE_LAT = 69.05


def spread_point(key: str, lat: float, lon: float, radius_mi: float = SPREAD_MI) -> tuple[float, float]:
    """A point (lat, lon in degrees) within `radius_mi` of (lat, lon), uniform over the disc and
    fixed by `key` (an address hash, say): the same key always gives the same point."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    v = int.from_bytes(digest[8:16], "big") / 2**64
    distance = radius_mi * math.sqrt(u)
    angle = 2 * math.pi * v
    new_lat = lat + distance * math.cos(angle) / MILES_PER_DEGREE_LAT
    scale = max(math.cos(math.radians(lat)), 0.05) * MILES_PER_DEGREE_LAT
    new_lon = lon + distance * math.sin(angle) / scale
    new_lon = (new_lon + 180.0) % 360.0 - 180.0
    return round(max(-90.0, min(90.0, new_lat)), 6), round(new_lon, 6)


DEMO_GEOCODER = "demo-spread"


def spread_row(row: dict, at: datetime) -> dict:
    """A location row (address, city, state, zip, lat, lon at the ZIP centroid) moved to its spread
    point and marked as placed by no real geocoder: geo_source 'geocoder' (a point of its own,
    not the ZIP's), geocoder 'demo-spread', quality 'synthetic', with the hash of its address."""
    digest = address_hash(row["address"], row["city"], row["state"], row["zip"])
    row["lat"], row["lon"] = spread_point(digest, row["lat"], row["lon"])
    row.update(geo_source="geocoder", geocoder=DEMO_GEOCODER, geo_quality="synthetic", geocoded_at=at,
               address_hash=digest)
    return row
