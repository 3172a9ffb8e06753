"""The `place` search parameter (a ZIP, "City, ST", or a street address when a geocoder is
configured) beside `zip` and `lat`/`lon`, for the JSON API and the search page alike.

The place is resolved here (directory/places.py) and handed to the one search parser as the
latitude and longitude it stands for; the parsed query then carries the place's name.
"""

from __future__ import annotations

from dataclasses import replace

from flask import Flask, current_app
from werkzeug.datastructures import MultiDict

from directory.geocoding import GEOCODER as GEOCODER_EXTENSION
from directory.geocoding import geocode_address
from directory.places import Geocoder, GeocoderUnavailable, PlaceError, resolve_place
from directory.read.reference import known_networks
from directory.read.shapes import SearchPlacePublic
from directory.search.query import QueryError, SearchQuery, parse_search_args

OTHER_PLACES = ("zip", "lat", "lon")


class PlaceQueryError(QueryError):
    """A place that cannot be resolved; `matches` are the cities an ambiguous name could mean."""

    def __init__(self, error: PlaceError):
        super().__init__("place", error.message, error.code)
        self.matches = error.matches


class GeocoderDown(QueryError):
    """The configured geocoder failed: the API answers 503, the page says so beside the field."""

    def __init__(self, error: GeocoderUnavailable):
        super().__init__("place", str(error), "geocoder_unavailable")


class AppGeocoder:
    """The app's configured geocoder as the place box uses it: directory.geocoding.geocode_address
    (its sanity rules included: a match too coarse, or far from the ZIP the text ends with, is no
    match), as (lat, lon)."""

    def __init__(self, app: Flask):
        self.app = app

    def geocode_address(self, text: str) -> tuple[float, float] | None:
        point = geocode_address(self.app, text)
        return None if point is None else (point.lat, point.lon)


def configured_geocoder() -> Geocoder | None:
    """The geocoder for street addresses when GEOCODER is not off, else None (they are refused)."""
    if current_app.extensions.get(GEOCODER_EXTENSION) is None:
        return None
    return AppGeocoder(current_app._get_current_object())


def _log_failure(error: Exception) -> None:
    current_app.logger.warning("geocoder failed for a patient's place: %s", type(error).__name__)


def parse_search(args: MultiDict, *, place_wins: bool = False) -> tuple[SearchQuery, SearchPlacePublic | None]:
    """Validate search arguments with `place` as well as `zip` and `lat`/`lon`: the query and the
    place searched as it was resolved (None without one).

    The API refuses `place` with `zip` or `lat`/`lon` (400, field place); the search page passes
    `place_wins`, since its form keeps an earlier "use my location" in hidden fields."""
    places = args.getlist("place")
    if len(places) > 1:
        raise QueryError("place", "give place once")
    text = places[0].strip() if places else ""
    if not text:
        query = parse_search_args(args, known_networks)
        return query, _echo(query)
    if not place_wins and any(args.get(name, "").strip() for name in OTHER_PLACES):
        raise QueryError("place", "give one of place, zip, or lat and lon")
    try:
        resolved = resolve_place(text, configured_geocoder(), _log_failure)
    except PlaceError as error:
        raise PlaceQueryError(error) from None
    except GeocoderUnavailable as error:
        raise GeocoderDown(error) from None
    pairs = [(k, v) for k, v in args.items(multi=True) if k not in ("place", *OTHER_PLACES)]
    pairs += [("lat", repr(resolved.lat)), ("lon", repr(resolved.lon))]
    query = parse_search_args(MultiDict(pairs), known_networks)
    query = replace(query, place=replace(query.place, zip=resolved.zip, label=resolved.name))
    return query, SearchPlacePublic(name=resolved.name, lat=resolved.lat, lon=resolved.lon,
                                    resolved_by=resolved.resolved_by, radius_mi=query.place.radius_mi)


def _echo(query: SearchQuery) -> SearchPlacePublic | None:
    """The place of a search by zip or lat/lon, as `place` is echoed."""
    place = query.place
    if place is None:
        return None
    return SearchPlacePublic(name=place.label, lat=place.lat, lon=place.lon,
                             resolved_by="zip" if place.zip else "coordinates", radius_mi=place.radius_mi)
