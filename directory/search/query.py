"""`SearchQuery`: validated search input. Anything out of range is refused, never clamped."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from directory import reference
from directory.geo import MAX_RADIUS_MI, ZipError, lookup_zip
from directory.read.shapes import MAX_PER_PAGE

SORTS = ("distance", "relevance", "name")
KINDS = ("organization", "practitioner")
TRUE_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
MAX_Q = 200
MAX_PAGE = 10_000
MAX_DEPTH = 10_000  # page x per_page: results past this many are not served (narrow the search instead)
DEFAULT_RADIUS_MI = 25.0


class QueryError(ValueError):
    """A search parameter that cannot be accepted; names the field and what is allowed."""

    def __init__(self, field: str, message: str, code: str = "invalid_parameter"):
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    radius_mi: float
    zip: str | None = None
    label: str = ""


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""
    place: Place | None = None
    specialties: tuple[str, ...] = ()
    networks: tuple[int, ...] = ()
    kind: str | None = None
    accepting: bool | None = None
    telehealth: bool | None = None
    languages: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    facets: bool = True
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def by_place_alone(query: SearchQuery) -> bool:
    """A search with no condition but (perhaps) a place: what per-place counts can answer."""
    return not (query.q or query.kind or query.accepting or query.telehealth or query.specialties
                or query.networks or query.languages or query.services)


def clean_text(text: str) -> str:
    """Drop control characters and collapse whitespace; the text stays plain words."""
    kept = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    return " ".join(kept.split())


# Numbers as the OpenAPI and JSON write them: ASCII digits, no underscores, no plus sign, where
# int() and float() would also read "1_0", "+3" and digits of other scripts.
WHOLE = re.compile(r"^-?[0-9]+$")
DECIMAL = re.compile(r"^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")


def _int(name: str, raw: str, low: int, high: int) -> int:
    text = raw.strip() if isinstance(raw, str) else ""
    if not WHOLE.match(text) or len(text) > 20:
        raise QueryError(name, f"{name} must be a whole number from {low} to {high}")
    value = int(text)
    if not low <= value <= high:
        raise QueryError(name, f"{name} must be from {low} to {high}")
    return value


def _float(name: str, raw: str, low: float, high: float, unit: str = "") -> float:
    text = raw.strip() if isinstance(raw, str) else ""
    if not DECIMAL.match(text):
        raise QueryError(name, f"{name} must be a number from {low:g} to {high:g}{unit}")
    value = float(text)
    if not math.isfinite(value) or not low <= value <= high:
        raise QueryError(name, f"{name} must be from {low:g} to {high:g}{unit}")
    return value


def _bool(name: str, raw: str) -> bool:
    value = TRUE_WORDS.get(raw.strip().lower())
    if value is None:
        raise QueryError(name, f"{name} must be true or false")
    return value


def parse_search_args(
    args: Mapping, known_networks: Callable[[list[int]], set[int]]
) -> SearchQuery:
    """Validate request arguments (a MultiDict-like mapping) into a SearchQuery.

    `known_networks` returns which of the given network ids exist (the database knows).
    """

    def one(name: str) -> str | None:
        values = args.getlist(name) if hasattr(args, "getlist") else [args.get(name)]
        values = [v for v in values if v is not None]
        if len(values) > 1:
            raise QueryError(name, f"give {name} once")
        value = values[0].strip() if values else None
        return value or None

    def many(name: str) -> list[str]:
        values = args.getlist(name) if hasattr(args, "getlist") else [args[name]] if name in args else []
        out = []
        for value in values:
            out.extend(part.strip() for part in str(value).split(",") if part.strip())
        if len(out) > 50:
            raise QueryError(name, f"at most 50 values of {name}")
        return out

    q = clean_text(one("q") or "")
    if len(q) > MAX_Q:
        raise QueryError("q", f"q is at most {MAX_Q} characters")

    place = _parse_place(one("zip"), one("lat"), one("lon"), one("radius"))

    specialties = many("specialty")
    taxonomy = reference.taxonomy()
    for code in specialties:
        if code.upper() not in taxonomy:
            raise QueryError("specialty", f"unknown specialty code {code!r}; see /api/v1/specialties")
    specialties = [c.upper() for c in specialties]

    network_ids = []
    for raw in many("network"):
        if not raw.isdigit() or len(raw) > 9:
            raise QueryError("network", f"network must be a network id; see /api/v1/networks (got {raw!r})")
        network_ids.append(int(raw))
    missing = set(network_ids) - known_networks(network_ids) if network_ids else set()
    if missing:
        raise QueryError("network", f"unknown network id {min(missing)}; see /api/v1/networks")

    kind = one("kind")
    if kind is not None and kind not in KINDS:
        raise QueryError("kind", "kind must be organization or practitioner")

    accepting = _flag("accepting", one("accepting"))
    telehealth = _flag("telehealth", one("telehealth"))

    languages = [v.lower() for v in many("language")]
    for code in languages:
        if code not in reference.languages():
            raise QueryError("language", f"unknown language {code!r}; use ISO 639-1 codes like en, es")
    services = [v.lower() for v in many("service")]
    service_ids = {c.id for c in reference.vocabulary().services()}
    for service in services:
        if service not in service_ids:
            raise QueryError("service", f"unknown service {service!r}; one of {', '.join(sorted(service_ids))}")

    sort = one("sort") or ("distance" if place else "relevance")
    if sort not in SORTS:
        raise QueryError("sort", "sort must be distance, relevance or name")
    if sort == "distance" and place is None:
        raise QueryError("sort", "sort=distance needs a place (zip, or lat and lon)")

    page = _int("page", one("page"), 1, MAX_PAGE) if one("page") else 1
    per_page = _int("per_page", one("per_page"), 1, MAX_PER_PAGE) if one("per_page") else 20
    if page * per_page > MAX_DEPTH:
        raise QueryError("page", f"page × per_page may be at most {MAX_DEPTH:,}: only the first {MAX_DEPTH:,} "
                                 "results are served; narrow the search", code="page_too_deep")

    return SearchQuery(
        q=q,
        place=place,
        specialties=tuple(dict.fromkeys(specialties)),
        networks=tuple(dict.fromkeys(network_ids)),
        kind=kind,
        accepting=accepting,
        telehealth=telehealth,
        languages=tuple(dict.fromkeys(languages)),
        services=tuple(dict.fromkeys(services)),
        sort=sort,
        page=page,
        per_page=per_page,
    )


def _flag(name: str, raw: str | None) -> bool | None:
    """Boolean filters keep only matching listings when true; false means 'do not filter'."""
    if raw is None:
        return None
    return True if _bool(name, raw) else None


def _parse_place(zip_raw, lat_raw, lon_raw, radius_raw) -> Place | None:
    if zip_raw and (lat_raw or lon_raw):
        raise QueryError("zip", "give either zip or lat and lon, not both")
    if (lat_raw is None) != (lon_raw is None):
        missing = "lon" if lon_raw is None else "lat"
        raise QueryError(missing, "lat and lon must be given together")
    radius = (
        _float("radius", radius_raw, 1, MAX_RADIUS_MI, " miles") if radius_raw else DEFAULT_RADIUS_MI
    )
    if zip_raw:
        try:
            found = lookup_zip(zip_raw)
        except ZipError as error:
            raise QueryError("zip", str(error), code="unknown_zip") from None
        return Place(found.lat, found.lon, radius, found.zip, f"{found.zip} ({found.city}, {found.state})")
    if lat_raw is not None:
        lat = _float("lat", lat_raw, -90, 90)
        lon = _float("lon", lon_raw, -180, 180)
        return Place(lat, lon, radius, None, f"{lat:.4f}, {lon:.4f}")
    if radius_raw:
        raise QueryError("radius", "radius needs a place (zip, or lat and lon)")
    return None
