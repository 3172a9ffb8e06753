"""Street-level geocoding through geopy, chosen by configuration (GEOCODER, off by default).

- `init_app(app)`: reads and checks the GEOCODER_* settings (a bad one refuses to start).
- `get_geocoder(app)`: the app's rate-limited geocoder, or GeocoderOff.
- `geocode_address(app, text)`: a patient's free-text address to a point, at request time.
- Locations are placed by the queue (`directory.geocoding.worker`, `flask --app wsgi geocode`),
  writing through `directory.services.geocoding`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Flask

from directory.geo import ZipError, lookup_zip
from directory.geocoding.addresses import address_hash, address_text, location_hash
from directory.geocoding.client import Geocoder, GeocoderOff, GeocodingError, GeocodingFailed
from directory.geocoding.sanity import Match, coarse_reason, rejection
from directory.geocoding.settings import GeocoderSettingError, GeocoderSettings, read_settings

__all__ = ["GeocodedPoint", "Geocoder", "GeocoderOff", "GeocoderSettingError", "GeocoderSettings",
           "GeocodingError", "GeocodingFailed", "Match", "address_hash", "address_text", "geocode_address",
           "get_geocoder", "get_settings", "init_app", "location_hash", "rejection"]

SETTINGS = "directory.geocoder_settings"
GEOCODER = "directory.geocoder"
ZIP_IN_TEXT = re.compile(r"\b(\d{5})(?:-\d{4})?\s*$")


@dataclass(frozen=True)
class GeocodedPoint:
    lat: float  # degrees
    lon: float  # degrees
    quality: str | None  # the geocoder's match type ("house", "street", ...), when it gives one


def init_app(app: Flask) -> None:
    """Check the settings now: an unknown geocoder or a bad setting stops the app from starting."""
    try:
        settings = read_settings(app.config)
    except GeocoderSettingError as error:
        raise RuntimeError(f"geocoder configuration: {error}") from None
    app.extensions[SETTINGS] = settings
    if settings.enabled:
        app.extensions[GEOCODER] = Geocoder(settings)


def get_settings(app: Flask) -> GeocoderSettings:
    return app.extensions[SETTINGS]


def get_geocoder(app: Flask) -> Geocoder:
    """The app's geocoder (one per process, so its rate limit holds); GeocoderOff when GEOCODER=off."""
    geocoder = app.extensions.get(GEOCODER)
    if geocoder is None:
        raise GeocoderOff("no geocoder is configured (GEOCODER=off)")
    return geocoder


def geocode_address(app: Flask, text: str) -> GeocodedPoint | None:
    """Geocode a free-text US street address ("12 Main St, Boston, MA 02115") with the configured
    geocoder, now (a patient's search start; listings are geocoded by the queue instead).

    Returns a GeocodedPoint (degrees), or None when the geocoder found no match or only one that the
    sanity rules reject: too coarse (a city, postcode... rather than a house or street), outside
    the US, or, when the text ends with a ZIP in the gazetteer, in another state than that ZIP or
    farther than GEOCODER_MAX_DISTANCE_MI from its centroid. Raises GeocoderOff when GEOCODER=off
    and GeocodingFailed when the geocoder cannot be reached, times out or answers with an error
    (both are GeocodingError). Calls wait for GEOCODER_MIN_DELAY between them, per process.
    """
    geocoder = get_geocoder(app)
    text = " ".join(str(text).split())
    if not text:
        return None
    match = geocoder.lookup(text)
    if match is None or coarse_reason(match):
        return None
    zip_match = ZIP_IN_TEXT.search(text)
    if zip_match:
        try:
            place = lookup_zip(zip_match.group(1))
        except ZipError:
            place = None
        if place is not None and rejection(match, state=place.state, centre=(place.lat, place.lon),
                                           zip5=place.zip, max_distance_mi=geocoder.settings.max_distance_mi):
            return None
    return GeocodedPoint(lat=match.lat, lon=match.lon, quality=match.kind)
