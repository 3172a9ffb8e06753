"""The searches answered through the Searcher (directory.search): `near` (which listings have a
place within the radius) and `_content` (our typo-tolerant text search, in relevance order).
The listings it names narrow what the FHIR search maps and tests."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from directory.fhir.errors import SearchError
from directory.fhir.values import split_escaped
from directory.geo import MAX_RADIUS_MI, great_circle_mi
from directory.search import get_searcher
from directory.search.query import MAX_Q, Place, SearchQuery, clean_text

KM_PER_MI = 1.609344
# near's unit -> (miles per unit, the UCUM code and unit of the distance we report)
UNITS = {"km": (1 / KM_PER_MI, "km", "km"), "mi": (1.0, "[mi_i]", "mi"), "[mi_i]": (1.0, "[mi_i]", "mi")}
# Every hit in one page: a search answers its total and page at once, so asking for a first page
# and then for all would run it twice.
ALL = 10**9


@dataclass(frozen=True)
class Near:
    """A point and a radius in miles; `unit` is the unit distances are reported in."""

    lat: float
    lon: float
    radius_mi: float
    unit: str = "km"

    def miles(self, lat: float, lon: float) -> float:
        return float(great_circle_mi(self.lat, self.lon, np.array([lat]), np.array([lon]))[0])

    def distance(self, miles: float) -> dict:
        """A location-distance extension's valueDistance, in the unit asked for."""
        per_unit, code, unit = UNITS[self.unit]
        return {"value": round(miles / per_unit, 3), "unit": unit, "system": "http://unitsofmeasure.org",
                "code": code}


def parse_near(value: str, name: str) -> Near:
    """`lat|lon|distance|unit` (distance and unit optional: 50 km)."""
    parts = split_escaped(value, "|")
    try:
        if not 2 <= len(parts) <= 4:
            raise ValueError
        lat, lon = float(parts[0]), float(parts[1])
        distance = float(parts[2]) if len(parts) > 2 and parts[2] else 50.0
    except ValueError as error:
        raise SearchError("invalid", f"{name} is latitude|longitude|distance|unit", name) from error
    unit = parts[3] if len(parts) > 3 and parts[3] else "km"
    if unit not in UNITS:
        raise SearchError("invalid", f"{name}: the unit is km, mi or [mi_i]", name)
    radius_mi = distance * UNITS[unit][0]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not 0 < radius_mi <= MAX_RADIUS_MI + 1e-9:
        raise SearchError("invalid", f"{name}: a latitude, a longitude and a distance up to {MAX_RADIUS_MI:g} mi",
                          name)
    return Near(lat, lon, min(radius_mi, MAX_RADIUS_MI), unit)


def near_listings(near: Near, *, specialties: tuple[str, ...] = (), networks: tuple[int, ...] = (),
                  kind: str | None = None) -> set[int]:
    """The listings with a place (their own locations or their roles') within the radius; only
    those with one of `specialties`, in one of `networks`, of `kind`, when given."""
    place = Place(lat=near.lat, lon=near.lon, radius_mi=near.radius_mi)
    # Nearest first: the backends' cheapest order by place (name order walks every name in PostgreSQL).
    query = SearchQuery(place=place, specialties=specialties, networks=networks, kind=kind, sort="distance",
                        facets=False)
    return get_searcher().matching_ids(query)


def content_words(text: str) -> str:
    """`_content`'s text as our text search takes it (at most MAX_Q characters, as the JSON API)."""
    words = clean_text(text)
    if not words or len(words) > MAX_Q:
        raise SearchError("invalid", f"_content is 1 to {MAX_Q} characters of text", "_content")
    return words


def content_ranking(words: str) -> dict[int, int]:
    """Listing id -> rank (0 best) of every listing our text search finds for these words."""
    hits = _all_hits(SearchQuery(q=words, sort="relevance", facets=False))
    return {hit.lid: rank for rank, hit in enumerate(hits)}


def content_page(words: str, kind: str, skip: int, size: int) -> tuple[int, list[int]]:
    """(How many listings of `kind` our text search finds for these words, the ids of `size` of
    them from rank `skip` on, best first): the Searcher ranks only the first skip + size (a
    surname at 1M can find 170,000 listings, whose whole ranking took ~1 s a request)."""
    result = get_searcher().search(SearchQuery(q=words, kind=kind, sort="relevance", facets=False,
                                               per_page=skip + size))
    return result.total, [hit.lid for hit in result.hits[skip:]]


def _all_hits(query: SearchQuery):
    return get_searcher().search(replace(query, per_page=ALL)).hits
